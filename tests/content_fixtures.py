"""Helpers that put accounts, fields, customers and groups straight into the content tables."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from uuid import UUID, uuid4

from psycopg_pool import ConnectionPool


def define_fields(pool: ConnectionPool, account_id: UUID, names: Sequence[str]) -> None:
    with pool.connection() as conn:
        for name in names:
            conn.execute(
                "INSERT INTO customer_fields (field_id, account_id, name, type) "
                "VALUES (%s, %s, %s, 'string') ON CONFLICT DO NOTHING",
                (uuid4(), account_id, name),
            )


def make_group(
    pool: ConnectionPool,
    account_id: UUID,
    customers: Sequence[Mapping[str, object]],
    name: str = "group",
) -> UUID:
    """Create customers (fresh external ids) and a group of exactly them."""
    group_id = uuid4()
    with pool.connection() as conn:
        conn.execute(
            "INSERT INTO customer_groups (customer_group_id, account_id, name) VALUES (%s, %s, %s)",
            (group_id, account_id, name),
        )
        with conn.cursor() as cur:
            rows = [(account_id, f"c-{uuid4().hex}", json.dumps(dict(c))) for c in customers]
            cur.executemany(
                "INSERT INTO customers (account_id, external_id, fields)"
                " VALUES (%s, %s, %s::jsonb)",
                rows,
            )
            cur.executemany(
                "INSERT INTO customer_group_members (customer_group_id, account_id, external_id) "
                "VALUES (%s, %s, %s)",
                [(group_id, account_id, r[1]) for r in rows],
            )
    return group_id
