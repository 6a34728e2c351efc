"""``webhooks list | deliveries | redeliver``: an account's webhooks, for operators."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table

from api.cli_common import cli_pool, console, load_settings, run_migrations

webhooks_app = typer.Typer(no_args_is_help=True, help="An account's webhooks.")
AccountOption = Annotated[UUID, typer.Option(help="The account the webhooks belong to.")]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")]
PAGE = 500  # rows per query while listing


def _webhooks(pool: Any, settings: Any) -> Any:
    from application.webhooks.endpoints import Webhooks

    return Webhooks(
        pool,
        allow_private=settings.webhook_allow_private,
        retry_seconds=settings.webhook_retry_seconds,
    )


def _show(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> None:
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, default=str))
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
    Console().print(table)


@webhooks_app.command("list")
def list_webhooks(account_id: AccountOption, as_json: JsonOption = False) -> None:
    """Every webhook of the account: its URL, events, and whether it is enabled."""
    settings, _ = load_settings()
    run_migrations(settings)
    with cli_pool(settings) as pool:
        webhooks, rows, page = _webhooks(pool, settings), [], 1
        while True:
            found, total = webhooks.page(account_id, page, PAGE)
            rows += [asdict(e) for e in found]
            if len(rows) >= total or not found:
                break
            page += 1
    columns = ["webhook_id", "url", "events", "enabled", "disabled_reason", "failing_since"]
    _show(rows, columns, as_json)


@webhooks_app.command("deliveries")
def deliveries(
    webhook_id: UUID,
    account_id: AccountOption,
    limit: Annotated[int, typer.Option(min=1, max=PAGE, help="The newest N attempts.")] = 50,
    message_id: Annotated[str | None, typer.Option(help="Only this message's.")] = None,
    as_json: JsonOption = False,
) -> None:
    """A webhook's delivery attempts, newest first."""
    from domain.errors import NotFound

    settings, _ = load_settings()
    run_migrations(settings)
    with cli_pool(settings) as pool:
        try:
            found, _ = _webhooks(pool, settings).attempts(
                account_id, webhook_id, 1, limit, message_id
            )
        except NotFound as missing:
            console.print(f"[red]{missing.message}[/red]")
            raise typer.Exit(1) from None
    columns = ["attempted_at", "message_id", "event_type", "status_code", "duration_ms"]
    _show([asdict(a) for a in found], [*columns, "error", "next_retry_at"], as_json)


@webhooks_app.command("redeliver")
def redeliver(webhook_id: UUID, message_id: str, account_id: AccountOption) -> None:
    """Send a message again under its own webhook-id, with a new retry window."""
    from domain.errors import NotFound

    settings, _ = load_settings()
    run_migrations(settings)
    with cli_pool(settings) as pool:
        try:
            _webhooks(pool, settings).redeliver(account_id, webhook_id, message_id)
        except NotFound as missing:
            console.print(f"[red]{missing.message}[/red]")
            raise typer.Exit(1) from None
    console.print(f"[green]queued[/green] {message_id} for webhook {webhook_id}")
