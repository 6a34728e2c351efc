"""The rows a window of events changes, held in memory while the handlers fold the events
into them.

Before the handlers run, every row they name (``Touch``) is loaded in one query per table
and key shape, except rows the window itself creates first (a new run's); the handlers
then read and change plain dicts (column -> value) and add new ones; each changed row is
written once at the end (``projections.writer``). Applying the
events one by one to the rows in memory is what makes a window of any size give the same
rows as one event per window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from typing import Any, NamedTuple

import orjson
from psycopg import Cursor, sql
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads

from projections.schema import Table, table

Row = dict[str, Any]
Key = tuple[Any, ...]


class Touch(NamedTuple):
    """Rows of ``table`` a handler reads or changes: the one with primary key ``key``, or,
    with a shorter key, every row whose key starts with it (a whole run's messages)."""

    table: Table
    key: Key


class Rows:
    def __init__(self, tables: Iterable[Table]) -> None:
        self.tables = {t.name: t for t in tables}
        self.rows: dict[str, dict[Key, Row]] = {name: {} for name in self.tables}
        # The rows to write, by identity (cheaper to hash than a key of UUIDs).
        self.changed: dict[str, dict[int, Row]] = {name: {} for name in self.tables}
        # Keys (or key prefixes) of rows the window creates: never loaded, and inserted.
        self.created: dict[str, set[Key]] = {name: set() for name in self.tables}
        self.wanted: dict[tuple[str, int], set[Key]] = defaultdict(set)

    # ---------------------------------------------------------------- before loading
    def want(self, touch: Touch) -> None:
        """Load this row (or these rows), unless the window creates it first."""
        name, key = touch.table.name, touch.key
        created = self.created[name]
        if key not in created and key[:-1] not in created:
            self.wanted[name, len(key)].add(key)

    def create(self, touch: Touch) -> None:
        """Rows the window creates from here on (a new run's, a new campaign's)."""
        self.created[touch.table.name].add(touch.key)

    # ---------------------------------------------------------------- handlers
    def get(self, table: Table, *key: Any) -> Row | None:
        """The row, to change it (None: it does not exist)."""
        row = self.rows[table.name].get(key)
        if row is not None:
            self.changed[table.name][id(row)] = row
        return row

    def read(self, table: Table, *key: Any) -> Row | None:
        """The row, only to read it."""
        return self.rows[table.name].get(key)

    def add(self, table: Table, row: Row) -> None:
        """A new row (or one that replaces the row with its key)."""
        rows, key = self.rows[table.name], table.key_of(row)
        replaced = rows.get(key)
        if replaced is not None:
            self.changed[table.name].pop(id(replaced), None)
        rows[key] = row
        self.changed[table.name][id(row)] = row

    def starting_with(self, table: Table, *prefix: Any) -> list[Row]:
        """The rows whose key starts with ``prefix``, to change them."""
        size = len(prefix)
        found = [row for key, row in self.rows[table.name].items() if key[:size] == prefix]
        self.changed[table.name].update((id(row), row) for row in found)
        return found

    # ---------------------------------------------------------------- after applying
    def changed_rows(self, table: Table) -> tuple[list[Row], list[Row]]:
        """The rows to write: (new ones, ones that may exist)."""
        created, key_of = self.created[table.name], table.key_of
        new: list[Row] = []
        changed: list[Row] = []
        for row in self.changed[table.name].values():
            key = key_of(row)
            (new if key in created or key[:-1] in created else changed).append(row)
        return new, changed

    # ---------------------------------------------------------------- loading
    def load(self, cur: Cursor[Any], schema: str | None) -> None:
        """Load every wanted row that exists: one query per table and key shape."""
        for (name, size), keys in self.wanted.items():
            spec = self.tables[name]
            found = self.rows[name]
            for row in _select(cur, spec, schema, size, keys):
                found[spec.key_of(row)] = row
        self.wanted.clear()


def _select(cur: Cursor[Any], spec: Table, schema: str | None, size: int, keys: set[Key]) -> Any:
    query = _select_statement(spec, schema, size)
    arrays = [list(values) for values in zip(*keys, strict=True)]
    with cur.connection.cursor(row_factory=dict_row) as rows:
        set_json_loads(orjson.loads, rows)
        return rows.execute(query, arrays, binary=True).fetchall()


@cache
def _select_statement(spec: Table, schema: str | None, size: int) -> sql.Composed:
    """The rows of ``spec`` whose first ``size`` key columns are in the given arrays."""
    columns = spec.key[:size]
    types = dict(zip(spec.column_names, spec.types, strict=True))
    return sql.SQL("SELECT * FROM {} WHERE ({}) IN (SELECT * FROM unnest({}))").format(
        table(spec.name, schema),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(
            sql.SQL("%b::{}[]").format(sql.SQL(types[column]))  # type: ignore[arg-type]
            for column in columns
        ),
    )
