"""The ``nudgescribe`` command: serve, processor, migrate, accounts, token, and the
operator and auditor commands (events, anchors, projections, webhooks, verify, demo)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from typing import Annotated
from uuid import UUID

import typer

from api.cli_audit import anchors_app, events_app, verify
from api.cli_common import cli_pool, console, load_settings, run_migrations
from api.cli_demo import demo
from api.cli_projections import projections_app
from api.cli_webhooks import webhooks_app
from api.observability import configure_logging, logging_config
from application.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Nudgescribe campaign reruns.")
accounts_app = typer.Typer(no_args_is_help=True, help="Manage accounts.")
app.add_typer(accounts_app, name="accounts")
app.add_typer(events_app, name="events")
app.add_typer(anchors_app, name="anchors")
app.add_typer(projections_app, name="projections")
app.add_typer(webhooks_app, name="webhooks")
app.command()(verify)
app.command()(demo)

__all__ = ["app", "load_settings", "main", "run_migrations"]


@app.command()
def migrate() -> None:
    """Create or upgrade every table, idempotently (every statement, even if stamped)."""
    settings, _ = load_settings()
    run_migrations(settings, force=True)
    console.print("[green]migrated[/green]")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="API worker processes.")] = 1,
    no_processor: Annotated[
        bool, typer.Option("--no-processor", help="Run the processor elsewhere.")
    ] = False,
) -> None:
    """Migrate, then serve the API (with the background processor unless --no-processor)."""
    from functools import partial

    import uvicorn

    from api.http_protocol import BoundedHttpToolsProtocol, HeadLimits
    from application.processor import run_processor

    configure_logging()
    settings, first_start = load_settings()
    run_migrations(settings)
    if first_start:
        print_first_start(settings, host, port)
    # uvicorn re-raises the signal that stopped it once it has shut down; with the default
    # SIGTERM action that kills the process before atexit handlers run, and the embedded
    # database would outlive its last user. Exiting normally lets them run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    stop = threading.Event()
    processor = None
    if not no_processor:
        # One processor per `serve`, beside however many API workers there are.
        processor = threading.Thread(
            target=run_processor, args=(settings, stop), name="processor", daemon=True
        )
        processor.start()
    limits = HeadLimits(
        head_timeout=settings.header_timeout_seconds,
        max_header=settings.max_header_bytes,
        max_head=settings.max_header_section_bytes,
    )
    try:
        uvicorn.run(
            "api.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",  # the fast event loop and HTTP parser (both installed)
            # httptools with bounds on the request head; uvicorn calls it as it would the
            # protocol class, and a partial of it travels to worker processes intact.
            http=partial(BoundedHttpToolsProtocol, limits=limits),  # type: ignore[arg-type]
            log_level="info",
            log_config=logging_config(),  # JSON lines, in every worker process
            access_log=False,  # the middleware logs each request with its request id
        )
    finally:
        stop.set()
        if processor is not None:
            processor.join(timeout=30)


def print_first_start(settings: Settings, host: str, port: int) -> None:
    assert settings.api_code is not None
    code = settings.api_code.get_secret_value()
    console.print(f"[bold]First start:[/bold] secrets generated in {settings.data_dir.resolve()}")
    console.print(f"API code (x-auth-context api_code): [bold]{code}[/bold]")
    # soft_wrap: the curl line must stay one line, so it can be copied and pasted.
    console.print(
        'Create an account:  nudgescribe accounts create "My company"\n'
        f"Get a token:        curl -s http://{host}:{port}/v1/auth/authenticate "
        "-H 'Content-Type: application/json' "
        f'-H \'x-auth-context: {{"api_access": true, "api_code": "{code}"}}\' '
        '-H \'x-ip: 127.0.0.1\' -d \'{"api_key": "<api_key>", "user_id": "me"}\'',
        soft_wrap=True,
        markup=False,
        highlight=False,
    )


@app.command()
def processor(
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics on this port (/metrics).")
    ] = None,
) -> None:
    """The background processor alone; run as many as you like."""
    from application.processor import run_processor

    configure_logging()
    settings, _ = load_settings()
    if metrics_port is not None:
        from prometheus_client import start_http_server

        from application.metrics import REGISTRY

        start_http_server(metrics_port, registry=REGISTRY)
    run_processor(settings)


@accounts_app.command("create")
def accounts_create(
    name: str,
    own_secret: Annotated[
        bool, typer.Option("--own-secret", help="Give it an account-specific JWT secret.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create an account; prints its account_id and api_key (shown only once)."""
    from application.content.accounts import Accounts

    settings, _ = load_settings()
    run_migrations(settings)
    with cli_pool(settings) as pool:
        account = Accounts(pool).create(name, own_secret=own_secret)
    if as_json:
        typer.echo(json.dumps({"account_id": str(account.account_id), "api_key": account.api_key}))
        return
    console.print(f"account_id: [bold]{account.account_id}[/bold]")
    console.print(f"api_key:    [bold]{account.api_key}[/bold]  (keep it: it is not stored)")


@app.command()
def token(
    account_id: Annotated[UUID, typer.Option(help="Account the token is for.")],
    user_id: Annotated[str, typer.Option(help="User the token names.")],
    role_code: Annotated[str | None, typer.Option(help="Role code claim.")] = None,
    ttl: Annotated[int, typer.Option(min=1, help="Lifetime in seconds.")] = 3600,
) -> None:
    """Print a signed JWT (with the account's own secret if it has one)."""
    from api.audit_fields import user_id_problem
    from api.tokens import issue_token
    from application.content.accounts import Accounts

    problem = user_id_problem(user_id)
    if problem is not None:  # the API would refuse the token on every request
        console.print(problem.message, style="red", markup=False)
        raise typer.Exit(1)
    settings, _ = load_settings()
    with cli_pool(settings) as pool:
        account = Accounts(pool).get(account_id)
    if account is None:
        console.print(f"[red]no account {account_id}[/red]")
        raise typer.Exit(1)
    assert settings.jwt_secret is not None
    secret = account.jwt_secret or settings.jwt_secret.get_secret_value()
    typer.echo(
        issue_token(
            secret, account_id=account_id, user_id=user_id, role_code=role_code, ttl_seconds=ttl
        )
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
