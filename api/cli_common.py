"""What every ``nudgescribe`` command shares: settings, migrations, a short-lived pool."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console

from application.settings import Settings

console = Console(stderr=True)  # messages; data (exports, tables asked for) go to stdout


def load_settings() -> tuple[Settings, bool]:
    """Settings with secrets; True when this call generated them (first start)."""
    settings = Settings()
    first_start = settings.api_code is None and not (settings.data_dir / "api_code").exists()
    return settings.with_generated_secrets(), first_start


def run_migrations(settings: Settings, *, force: bool = False) -> None:
    """Starting commands skip statements already applied; ``migrate`` runs them all."""
    from api.container import connection_info
    from application.database import open_pool
    from application.migrate import migrate
    from projections.schema import READ_MODEL_DDL

    connection = connection_info(settings)
    pool = open_pool(connection, max_size=2, name="nudgescribe-migrate")
    try:
        migrate(connection, pool, extra_ddl=READ_MODEL_DDL, force=force)
    finally:
        pool.close()


@contextmanager
def cli_pool(settings: Settings, max_size: int = 1) -> Iterator[Any]:
    """A short-lived pool for one CLI command (psycopg_pool.ConnectionPool)."""
    from api.container import connection_info
    from application.database import open_pool

    pool = open_pool(connection_info(settings), max_size=max_size, name="nudgescribe-cli")
    try:
        yield pool
    finally:
        pool.close()
