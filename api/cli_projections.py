"""``projections rebuild``: drop and rebuild read models from the log, with a progress bar."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from api.cli_common import cli_pool, console, load_settings, run_migrations

projections_app = typer.Typer(no_args_is_help=True, help="Read models.")


class EventsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        rate = task.completed / elapsed if elapsed > 0 else 0.0
        return Text(f"{rate:,.0f} events/s", style="progress.data.speed")


@projections_app.command("rebuild")
def rebuild(
    name: Annotated[str | None, typer.Argument(help="One read model (default: every one).")] = None,
) -> None:
    """Drop and rebuild read models from the log; the live ones keep serving meanwhile."""
    from application.row_security import row_security_ddl
    from projections.rebuild import rebuild as rebuild_read_models
    from projections.registry import PROJECTORS
    from projections.stats import event_count

    if name is not None and name not in PROJECTORS:
        raise typer.BadParameter(f"unknown read model {name!r}; one of: {', '.join(PROJECTORS)}")
    names = [name] if name else list(PROJECTORS)
    settings, _ = load_settings()
    run_migrations(settings)
    began = time.perf_counter()
    with cli_pool(settings, max_size=2) as pool:
        total = event_count(pool)
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            EventsPerSecond(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task(f"rebuilding {', '.join(names)}", total=total)
            position = rebuild_read_models(
                pool,
                names,
                progress=lambda read: progress.advance(task, read),
                secure=row_security_ddl(),
            )
            progress.update(task, completed=max(total, progress.tasks[0].completed))
    seconds = time.perf_counter() - began
    console.print(
        f"[green]rebuilt[/green] {', '.join(names)} up to log position {position} "
        f"({total} events in {seconds:.1f} s)"
    )
