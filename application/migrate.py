"""Create every table of the write side and the content, idempotently.

Run once before processes start (``nudgescribe migrate``; ``serve`` and the processor run
it too): the library's CREATE_TABLE raced with itself when several processes started
together (``tuple concurrently updated``), so creation is serialised by an advisory lock and
processes then construct the store with CREATE_TABLE=n.

The idempotent DDL still takes table locks (``CREATE OR REPLACE TRIGGER``, ``ADD COLUMN IF
NOT EXISTS``), so a process starting while uploads write customers and members can
deadlock with them (seen: a processor started beside a million-customer upload died in
its migration). PostgreSQL aborts one side; when that is the migration it is simply run
again, a few times, after the other side has gone on.

So that a restart (or another replica starting) takes no table lock at all, each set of
statements applied is stamped with a fingerprint of its text: a start whose statements were
all applied before reads the stamp and stops there. ``force`` (the ``migrate`` command)
runs every statement regardless, which also repairs a schema changed by hand.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence

from eventsourcing.postgres import PostgresAggregateRecorder
from psycopg import Connection, errors, sql
from psycopg_pool import ConnectionPool

from application.content.schema import CONTENT_DDL
from application.database import ConnectionInfo
from application.idempotency_records import IDEMPOTENCY_DDL
from application.processor.queue import PROCESSOR_DDL
from application.row_security import row_security_ddl
from application.store import CampaignStore, store_env
from application.webhooks.schema import WEBHOOKS_DDL

MIGRATION_LOCK_KEY = 0x6E756467  # "nudg"
DEADLOCK_ATTEMPTS = 5
STAMPS_TABLE = "nudgescribe_schema_stamps"
_STAMPS_DDL = sql.SQL(
    "CREATE TABLE IF NOT EXISTS {} (fingerprint text PRIMARY KEY,"
    " applied_at timestamptz NOT NULL DEFAULT now())"
).format(sql.Identifier(STAMPS_TABLE))


def migrate(
    connection: ConnectionInfo,
    pool: ConnectionPool,
    extra_ddl: Iterable[sql.Composable] = (),
    *,
    force: bool = False,
) -> bool:
    """Apply every statement unless this exact set was applied before (or ``force``).

    Returns whether the statements ran.
    """
    statements = list(extra_ddl)
    for attempt in range(1, DEADLOCK_ATTEMPTS):
        try:
            return _migrate(connection, pool, statements, force)
        except errors.DeadlockDetected:  # the migration was the side PostgreSQL aborted
            time.sleep(0.2 * attempt)
    return _migrate(connection, pool, statements, force)  # the last attempt raises


def _migrate(
    connection: ConnectionInfo,
    pool: ConnectionPool,
    extra_ddl: list[sql.Composable],
    force: bool,
) -> bool:
    with pool.connection() as conn:
        conn.autocommit = True
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            return _apply(
                connection,
                conn,
                [
                    *CONTENT_DDL,
                    *IDEMPOTENCY_DDL,
                    *PROCESSOR_DDL,
                    *WEBHOOKS_DDL,
                    *extra_ddl,
                    *row_security_ddl(),
                ],
                force,
            )
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))


def _apply(
    connection: ConnectionInfo,
    conn: Connection,  # type: ignore[type-arg]
    ours: list[sql.Composable],
    force: bool,
) -> bool:
    store = CampaignStore(store_env(connection, create_table=False, pool_size=1))
    try:
        recorders = _recorders(store)
        library = [statement for r in recorders for statement in r.sql_create_statements]
        stamp = fingerprint(conn, [*library, *ours])
        if not force and is_stamped(conn, stamp):
            return False
        for recorder in recorders:
            recorder.create_table()
        with conn.transaction():
            for statement in [*ours, _STAMPS_DDL]:
                conn.execute(sql.Composed([statement]))
            conn.execute(
                sql.SQL("INSERT INTO {} (fingerprint) VALUES (%s) ON CONFLICT DO NOTHING").format(
                    sql.Identifier(STAMPS_TABLE)
                ),
                (stamp,),
            )
        return True
    finally:
        store.close()


def _recorders(store: CampaignStore) -> list[PostgresAggregateRecorder]:
    """The events' and the snapshots' recorders, whose tables the library creates."""
    assert store.snapshots is not None  # the store snapshots (is_snapshotting_enabled)
    recorders = [store.recorder, store.snapshots.recorder]
    assert all(isinstance(r, PostgresAggregateRecorder) for r in recorders)
    return recorders  # type: ignore[return-value]


def fingerprint(conn: Connection, statements: Sequence[sql.Composable]) -> str:  # type: ignore[type-arg]
    digest = hashlib.sha256()
    for statement in statements:
        digest.update(statement.as_string(conn).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def is_stamped(conn: Connection, stamp: str) -> bool:  # type: ignore[type-arg]
    """Read without DDL: ``to_regclass`` first, so a fresh database needs no table."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (STAMPS_TABLE,)).fetchone()
    if not row or not row[0]:
        return False
    query = sql.SQL("SELECT 1 FROM {} WHERE fingerprint = %s").format(sql.Identifier(STAMPS_TABLE))
    return conn.execute(query, (stamp,)).fetchone() is not None
