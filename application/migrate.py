"""Create every table of the write side and the content, idempotently.

Run once before processes start (``nudgescribe migrate``; ``serve`` runs it too): the
library's CREATE_TABLE raced with itself when several processes started together
(``tuple concurrently updated``), so creation is serialised by an advisory lock and
processes then construct the store with CREATE_TABLE=n.
"""

from __future__ import annotations

from collections.abc import Iterable

from psycopg import sql
from psycopg_pool import ConnectionPool

from application.content.schema import CONTENT_DDL
from application.database import ConnectionInfo
from application.idempotency import IDEMPOTENCY_DDL
from application.processor.queue import PROCESSOR_DDL
from application.store import CampaignStore, store_env

MIGRATION_LOCK_KEY = 0x6E756467  # "nudg"


def migrate(
    connection: ConnectionInfo, pool: ConnectionPool, extra_ddl: Iterable[sql.Composable] = ()
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
