"""A query's rows a page at a time, the server working on the next pages meanwhile.

The export's time is the server cutting a page plus Python splicing it. With a named
cursor each FETCH waits for the previous page to be spliced; here the cursor is declared
by hand and its FETCHes go through libpq's pipeline mode, ``AHEAD`` of them in flight,
so the server builds the next pages while Python works on this one (two cores, no
thread). A query issued between pages (reading a few rows again) simply queues after
the FETCHes in flight.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from psycopg import Connection, Cursor, sql

AHEAD = 2  # FETCHes in flight: enough to keep the server busy, bounded memory


def pages(
    conn: Connection[Any], name: str, query: sql.Composable, params: dict[str, Any], size: int
) -> Iterator[list[Any]]:
    """The query's rows in binary, ``size`` at a time. Call it inside a transaction."""
    cursor = sql.Identifier(name)
    conn.execute(sql.SQL("DECLARE {} NO SCROLL CURSOR FOR {}").format(cursor, query), params)
    fetch = sql.SQL("FETCH FORWARD {} FROM {}").format(sql.Literal(size), cursor)
    try:
        with conn.pipeline() as pipeline:
            pending: deque[Cursor[Any]] = deque()

            def ask() -> None:
                cur = conn.cursor(binary=True)
                cur.execute(fetch)
                pending.append(cur)
                pipeline.sync()  # sends it now; does not wait for the answer

            for _ in range(AHEAD):
                ask()
            while rows := pending.popleft().fetchall():
                ask()
                yield rows
    finally:
        conn.execute(sql.SQL("CLOSE {}").format(cursor))
