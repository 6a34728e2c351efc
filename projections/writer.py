"""Writing a window's changed rows: per table, one COPY of the rows it created and one
set-based upsert of the others.

Rows that may exist go to a session-private copy of the table by binary COPY, then into
the table in one ``INSERT ... ON CONFLICT DO UPDATE``. The copy is truncated after each use (not
deleted from: temporary tables are never vacuumed), since the batches of a rebuild or a
verify run as savepoints of one transaction.
"""

from __future__ import annotations

from functools import cache
from operator import itemgetter
from typing import Any, NamedTuple

import orjson
from psycopg import Cursor, sql
from psycopg.types.json import set_json_dumps

from projections.fold import Row
from projections.schema import Table, table


class Statements(NamedTuple):
    insert: sql.Composed
    create: sql.Composed
    copy: sql.Composed
    upsert: sql.Composed
    clear: sql.Composed


def insert(cur: Cursor[Any], spec: Table, schema: str | None, rows: list[Row]) -> None:
    """Rows that cannot exist yet, copied straight into the table."""
    if rows:
        _copy(cur, spec, _statements(spec, schema).insert, rows)


def upsert(cur: Cursor[Any], spec: Table, schema: str | None, rows: list[Row]) -> None:
    if not rows:
        return
    statements = _statements(spec, schema)
    cur.execute(statements.create)
    _copy(cur, spec, statements.copy, rows)
    cur.execute(statements.upsert)
    cur.execute(statements.clear)


def _copy(cur: Cursor[Any], spec: Table, statement: sql.Composed, rows: list[Row]) -> None:
    set_json_dumps(orjson.dumps, cur)
    values = itemgetter(*spec.column_names)
    with cur.copy(statement) as copy:
        copy.set_types(spec.types)
        for row in rows:
            copy.write_row(values(row))


@cache
def _statements(spec: Table, schema: str | None) -> Statements:
    target = table(spec.name, schema)
    staging = sql.Identifier("pg_temp", f"{spec.name}_changed")
    columns = sql.SQL(", ").join(map(sql.Identifier, spec.column_names))
    updates = sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(column))
        for column in spec.column_names
        if column not in spec.key
    )
    return Statements(
        sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(target, columns),
        sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {})").format(staging, target),
        sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(staging, columns),
        sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT ({}) DO UPDATE SET {}").format(
            target,
            columns,
            columns,
            staging,
            sql.SQL(", ").join(map(sql.Identifier, spec.key)),
            updates,
        ),
        sql.SQL("TRUNCATE {}").format(staging),
    )
