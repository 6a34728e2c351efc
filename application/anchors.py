"""The anchored stream heads, for auditors to keep outside the database.

A copy of these lines taken today lets an auditor prove later that no stream was rewritten
wholesale since: each line names a stream, its last version then, and the chain hash of
that version (see ``application.chain``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from psycopg import Connection, sql

from application.recorder import STREAM_HEADS_TABLE

FETCH_SIZE = 2000


def export_anchors(conn: Connection[Any]) -> Iterator[dict[str, Any]]:
    """One record per stream, ordered by stream id: stream_id, version, chain_hash (hex)."""
    query = sql.SQL(
        "SELECT originator_id, originator_version, chain_hash FROM {} ORDER BY originator_id"
    ).format(sql.Identifier(STREAM_HEADS_TABLE))
    with conn.transaction(), conn.cursor(name="export_anchors") as cur:
        cur.itersize = FETCH_SIZE
        cur.execute(query)
        for stream_id, version, chain_hash in cur:
            yield {
                "stream_id": str(stream_id),
                "version": version,
                "chain_hash": bytes(chain_hash).hex(),
            }
