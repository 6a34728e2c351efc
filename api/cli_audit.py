"""Auditor commands: ``events export``, ``anchors export`` and ``verify``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, BinaryIO, TextIO
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table

from api.cli_common import cli_pool, console, load_settings

events_app = typer.Typer(no_args_is_help=True, help="The event log.")
anchors_app = typer.Typer(no_args_is_help=True, help="Anchored stream heads (hash chains).")

PROBLEMS_SHOWN = 1000
Output = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write to FILE instead of stdout.")
]


@contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    with path.open("w", encoding="utf-8") as out:
        yield out


@contextmanager
def _binary_output(path: Path | None) -> Iterator[BinaryIO]:
    """Like ``_output``, for lines that are UTF-8 bytes already."""
    if path is None:
        sys.stdout.flush()
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with path.open("wb") as out:
        yield out


def _write_lines(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        out.write("\n")
        count += 1
    return count


@events_app.command("export")
def events_export(
    campaign_id: Annotated[
        UUID | None, typer.Option(help="Only this campaign's events (its stream).")
    ] = None,
    since: Annotated[
        int | None, typer.Option(min=0, help="Only events after this log position.")
    ] = None,
    output: Output = None,
) -> None:
    """The event log as JSON lines, in log order (the export format auditors rely on)."""
    from application.export import write_lines

    settings, _ = load_settings()
    with cli_pool(settings) as pool, pool.connection() as conn, _binary_output(output) as out:
        count = write_lines(conn, out, campaign_id=campaign_id, since=since)
    if output is not None:
        console.print(f"{count} events written to {output}")


@anchors_app.command("export")
def anchors_export(output: Output = None) -> None:
    """Every stream's head (last version, chain hash) as JSON lines, to keep elsewhere."""
    from application.anchors import export_anchors

    settings, _ = load_settings()
    with cli_pool(settings) as pool, pool.connection() as conn, _output(output) as out:
        count = _write_lines(export_anchors(conn), out)
    if output is not None:
        console.print(f"{count} stream heads written to {output}")


def verify() -> None:
    """Check the hash chains and compare the read models with a fresh replay of the log.

    Exit 1 on any difference or chain problem.
    """
    from application.audit import verify_chains
    from projections.rebuild import verify as verify_read_models

    settings, _ = load_settings()
    out = Console(soft_wrap=True)
    with cli_pool(settings, max_size=2) as pool:  # the replay reads ahead on a second one
        with pool.connection() as conn:
            checked, problems = verify_chains(conn)
        differences = verify_read_models(pool)

    table = Table(title="nudgescribe verify")
    table.add_column("check")
    table.add_column("examined", justify="right")
    table.add_column("differences", justify="right")
    table.add_column("result")
    table.add_row("hash chains", f"{checked} events", str(len(problems)), _verdict(not problems))
    for name, count in sorted(differences.items()):
        table.add_row(f"read model {name}", "every row", str(count), _verdict(count == 0))
    out.print(table)
    for problem in problems[:PROBLEMS_SHOWN]:
        out.print(f"[red]tampered[/red] {problem}", highlight=False)
    if len(problems) > PROBLEMS_SHOWN:
        out.print(f"... and {len(problems) - PROBLEMS_SHOWN} more chain problems")
    failed = bool(problems) or any(differences.values())
    if failed:
        out.print("[bold red]verify failed[/bold red]")
        raise typer.Exit(1)
    out.print("[bold green]the log is intact and the read models agree with it[/bold green]")


def _verdict(ok: bool) -> str:
    return "[green]ok[/green]" if ok else "[red]DIFFERS[/red]"
