"""Rebuild read models from the log, and verify live ones against a fresh replay.

A rebuild fills fresh tables in a scratch schema while the live ones keep serving, then
locks the live positions (pausing live projection), tops the fresh tables up to the head,
and swaps them in within one transaction. ``verify`` replays into a scratch schema up to
the live position and counts the rows that differ; it changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID, uuid4

from psycopg import Connection, sql
from psycopg_pool import ConnectionPool

from projections.projector import ProjectionSet
from projections.registry import PROJECTORS, build_projectors
from projections.schema import POSITIONS, read_model_ddl, table

Progress = Callable[[int], None]


def _tables(names: list[str]) -> list[str]:
    return [t.name for name in names for t in PROJECTORS[name].tables]  # type: ignore[attr-defined]


def create_fresh(conn: Connection[Any], schema: str, names: list[str]) -> ProjectionSet:
    with conn.transaction():
        for statement in read_model_ddl(schema, [POSITIONS, *_tables(names)]):
            conn.execute(statement)
    return ProjectionSet(build_projectors(schema, names), schema=schema)


def drop_schema(conn: Connection[Any], schema: str) -> None:
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    conn.commit()


def rebuild(
    pool: ConnectionPool[Any],
    names: list[str] | None = None,
    progress: Progress | None = None,
    *,
    secure: Sequence[sql.Composable],
) -> int:
    """Drop and rebuild ``names`` (default: every read model); return the position reached.

    ``secure``: the statements that give the swapped-in tables their privileges and
    row-level security, run in the swap's own transaction (fresh tables have neither, and
    requests must never see them without)."""
    names = names or list(PROJECTORS)
    scratch = f"rm_rebuild_{uuid4().hex[:8]}"
    live = ProjectionSet(build_projectors(None, names))
    with pool.connection() as conn:
        try:
            fresh = create_fresh(conn, scratch, names)
            fresh.catch_up_on(conn, progress=progress)
            with conn.transaction(), conn.cursor() as cur:
                live.lock_positions(cur)
                # savepoints inside this transaction
                fresh.catch_up_on(conn, progress=progress)
                (position,) = set(fresh.lock_positions(cur).values())
                target = cur.execute("SELECT current_schema()").fetchone()[0]  # type: ignore[index]
                for name in _tables(names):
                    # CASCADE: other tables' policies read rm_campaigns; ``secure`` below
                    # creates them again before this transaction commits.
                    cur.execute(
                        sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(table(name, target))
                    )
                    cur.execute(
                        sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
                            table(name, scratch), sql.Identifier(target)
                        )
                    )
                for statement in secure:
                    cur.execute(statement)
                cur.execute(
                    sql.SQL("UPDATE {} SET position = %s WHERE name = ANY(%s)").format(
                        table(POSITIONS, target)
                    ),
                    (position, names),
                )
        finally:
            drop_schema(conn, scratch)
    return int(position)


def table_differences(
    conn: Connection[Any],
    name: str,
    schema_a: str | None,
    schema_b: str,
    campaign_ids: list[UUID] | None = None,
) -> int:
    """Rows in one copy of table ``name`` and not the other, counted with multiplicity
    (only the rows of ``campaign_ids`` when given)."""
    where = sql.SQL(" WHERE campaign_id = ANY(%(ids)s)" if campaign_ids is not None else "")
    a = sql.SQL("SELECT * FROM {}{}").format(table(name, schema_a), where)
    b = sql.SQL("SELECT * FROM {}{}").format(table(name, schema_b), where)
    query = sql.SQL(
        "SELECT count(*) FROM (({a} EXCEPT ALL {b}) UNION ALL ({b} EXCEPT ALL {a})) AS d"
    ).format(a=a, b=b)
    row = conn.execute(query, {"ids": campaign_ids}).fetchone()
    return int(row[0]) if row else 0


def verify(
    pool: ConnectionPool[Any],
    names: list[str] | None = None,
    *,
    after: int = 0,
    campaign_ids: list[UUID] | None = None,
) -> dict[str, int]:
    """Replay the log into scratch tables up to the live position; differing rows per table.

    ``after`` and ``campaign_ids`` narrow it to campaigns whose every event is after
    that position (a test's own campaigns), so it stays quick on a long log.
    """
    names = names or list(PROJECTORS)
    scratch = f"rm_verify_{uuid4().hex[:8]}"
    live = ProjectionSet(build_projectors(None, names))
    with pool.connection() as conn:
        try:
            fresh = create_fresh(conn, scratch, names)
            with conn.transaction(), conn.cursor() as cur:
                positions = live.lock_positions(cur)
                fresh.lock_positions(cur)
                fresh.set_position(cur, after)
                fresh.catch_up_on(conn, upto=min(positions.values()))
                return {
                    t: table_differences(conn, t, None, scratch, campaign_ids)
                    for t in _tables(names)
                }
        finally:
            drop_schema(conn, scratch)
