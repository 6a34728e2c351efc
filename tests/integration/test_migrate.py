"""Migrating beside live writers: a deadlock that aborts the migration runs it again, and a
start whose statements were applied already takes no table lock at all."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from psycopg import sql
from psycopg_pool import ConnectionPool

from application.migrate import migrate

pytestmark = pytest.mark.integration

# The locks a migration's DDL holds that a writer's ROW EXCLUSIVE must wait for.
_BLOCKING = ("ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock")


def blocked_backend(conn: psycopg.Connection, other_than: int) -> int | None:  # type: ignore[type-arg]
    row = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND pid <> %s",
        (other_than,),
    ).fetchone()
    return row[0] if row else None


@pytest.mark.usefixtures("pool")  # the tables exist (the session's migration)
def test_a_migration_aborted_by_a_deadlock_with_a_writer_runs_again(db):  # type: ignore[no-untyped-def]
    outcome: list[BaseException | None] = []
    # PostgreSQL checks a lock wait for deadlocks once, deadlock_timeout after it began.
    # The migration's check must come after the writer closes the cycle (4 s leaves this
    # thread time to see the wait and answer it) and before the writer's own (60 s).
    migration_pool = ConnectionPool(
        db.conninfo(), min_size=1, max_size=1, kwargs={"options": "-c deadlock_timeout=4s"}
    )
    with (
        migration_pool,
        psycopg.connect(db.conninfo()) as writer,
        psycopg.connect(db.conninfo(), autocommit=True) as watcher,
    ):
        writer.execute("SET deadlock_timeout = '60s'")  # the migration detects it, first
        # An upload's insert holds the members table...
        writer.execute("LOCK TABLE customer_group_members IN ROW EXCLUSIVE MODE")

        def run() -> None:
            try:
                migrate(db, migration_pool, force=True)  # every statement, as on a first start
                outcome.append(None)
            except BaseException as error:  # reported by the assertion below
                outcome.append(error)

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 30
        migration = None
        while migration is None and time.monotonic() < deadline:
            migration = blocked_backend(watcher, writer.info.backend_pid)
            time.sleep(0.05)
        assert migration is not None, "the migration never waited for the writer"
        held = watcher.execute(
            "SELECT relation::regclass::text FROM pg_locks WHERE pid = %s AND granted"
            " AND locktype = 'relation' AND mode = ANY(%s) AND relation IS NOT NULL"
            " AND relation::regclass::text NOT LIKE 'pg_%%' LIMIT 1",
            (migration, list(_BLOCKING)),
        ).fetchone()
        assert held is not None, "the waiting migration holds no table lock"
        # ... and then needs a table the migration holds: a deadlock. The migration has
        # waited longer, so PostgreSQL aborts it; the writer's lock is then granted.
        writer.execute(f"LOCK TABLE {held[0]} IN ROW EXCLUSIVE MODE")
        writer.rollback()  # the upload finishes; the migration's next attempt goes through
        thread.join(60)

    assert outcome == [None]


def migrate_beside(db, pool, holder: psycopg.Connection, **kwargs) -> bool:  # type: ignore[no-untyped-def,type-arg]
    """Migrate while ``holder`` keeps its locks; give up (and release them) after 30 s."""
    outcome: list[bool | BaseException] = []

    def run() -> None:
        try:
            outcome.append(migrate(db, pool, **kwargs))
        except BaseException as error:  # reported by the assertion below
            outcome.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    holder.rollback()  # lets a migration that waited for the lock finish
    thread.join(60)
    assert len(outcome) == 1, outcome
    assert isinstance(outcome[0], bool), outcome
    return outcome[0]


def test_a_start_whose_statements_were_applied_takes_no_table_lock(db, pool):  # type: ignore[no-untyped-def]
    migrate(db, pool)  # stamps this set of statements
    with psycopg.connect(db.conninfo()) as holder:
        # A long transaction holding the members table: DDL on it would queue behind it
        # (and every writer after the DDL would queue too).
        holder.execute("LOCK TABLE customer_group_members IN ACCESS EXCLUSIVE MODE")
        # Had it waited, the holder's release would have let it run the DDL (True).
        assert migrate_beside(db, pool, holder) is False


def test_changed_statements_and_forced_migrations_run_again(db, pool):  # type: ignore[no-untyped-def]
    probe = sql.SQL("CREATE TABLE IF NOT EXISTS migrate_probe (id int PRIMARY KEY)")
    migrate(db, pool)
    try:
        assert migrate(db, pool, extra_ddl=[probe]) is True  # a new statement: runs once
        assert migrate(db, pool, extra_ddl=[probe]) is False
        with psycopg.connect(db.conninfo(), autocommit=True) as conn:
            conn.execute("DROP TABLE migrate_probe")  # changed by hand: only force repairs it
            assert migrate(db, pool, extra_ddl=[probe]) is False
            assert migrate(db, pool, extra_ddl=[probe], force=True) is True
            assert conn.execute("SELECT to_regclass('migrate_probe')").fetchone() == (
                "migrate_probe",
            )
    finally:
        with psycopg.connect(db.conninfo(), autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS migrate_probe")
