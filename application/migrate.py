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
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from psycopg import errors, sql
from psycopg_pool import ConnectionPool

from application.content.schema import CONTENT_DDL
from application.database import ConnectionInfo
from application.idempotency import IDEMPOTENCY_DDL
from application.processor.queue import PROCESSOR_DDL
from application.store import CampaignStore, store_env

MIGRATION_LOCK_KEY = 0x6E756467  # "nudg"
DEADLOCK_ATTEMPTS = 5


def migrate(
    connection: ConnectionInfo, pool: ConnectionPool, extra_ddl: Iterable[sql.Composable] = ()
) -> None:
    statements = list(extra_ddl)
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            _migrate(connection, pool, statements)
            return
        except errors.DeadlockDetected:  # the migration was the side PostgreSQL aborted
            if attempt == DEADLOCK_ATTEMPTS:
                raise
            time.sleep(0.2 * attempt)


def _migrate(
    connection: ConnectionInfo, pool: ConnectionPool, extra_ddl: list[sql.Composable]
) -> None:
    with pool.connection() as conn:
        conn.autocommit = True
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            store = CampaignStore(store_env(connection, create_table=True, pool_size=1))
            store.close()
            with conn.transaction():
                for statement in [*CONTENT_DDL, *IDEMPOTENCY_DDL, *PROCESSOR_DDL, *extra_ddl]:
                    conn.execute(sql.Composed([statement]))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
