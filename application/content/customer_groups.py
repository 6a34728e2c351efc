"""Customer groups as the API manages them: create, list, update membership, delete.

Only customers that exist in the account become members; the answer's ``customer_count``
says how many did. Whether a current run uses a group is a read-model question, so the
API asks it before calling ``delete``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from psycopg import Connection
from psycopg_pool import ConnectionPool

from application.content.errors import InvalidContent
from application.errors import CustomerGroupNotFound
from application.row_security import account_connection

_SELECT = (
    "SELECT g.customer_group_id, g.name, "
    "(SELECT count(*) FROM customer_group_members m "
    "WHERE m.customer_group_id = g.customer_group_id), g.created_at, g.updated_at "
    "FROM customer_groups g "
)


@dataclass(frozen=True)
class GroupSummary:
    customer_group_id: UUID
    name: str
    customer_count: int
    created_at: datetime
    updated_at: datetime


def _clean_name(name: str) -> str:
    if not name.strip():
        raise InvalidContent(None, "name must not be empty")
    return name.strip()


class CustomerGroups:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def create(self, account_id: UUID, name: str, external_ids: Sequence[str]) -> GroupSummary:
        group_id = uuid4()
        with account_connection(self.pool, account_id) as conn:
            conn.execute(
                "INSERT INTO customer_groups (customer_group_id, account_id, name) "
                "VALUES (%s, %s, %s)",
                (group_id, account_id, _clean_name(name)),
            )
            self._add(conn, account_id, group_id, external_ids)
            return self._get(conn, account_id, group_id)

    def page(self, account_id: UUID, page: int, page_size: int) -> tuple[list[GroupSummary], int]:
        with account_connection(self.pool, account_id) as conn:
            rows = conn.execute(
                _SELECT + "WHERE g.account_id = %s ORDER BY g.created_at DESC, "
                "g.customer_group_id LIMIT %s OFFSET %s",
                (account_id, page_size, (page - 1) * page_size),
            ).fetchall()
            total = conn.execute(
                "SELECT count(*) FROM customer_groups WHERE account_id = %s", (account_id,)
            ).fetchone()
        return [GroupSummary(*r) for r in rows], int(total[0]) if total else 0

    def update(
        self,
        account_id: UUID,
        group_id: UUID,
        *,
        name: str | None = None,
        add_external_ids: Sequence[str] = (),
        remove_external_ids: Sequence[str] = (),
    ) -> GroupSummary:
        with account_connection(self.pool, account_id) as conn:
            found = conn.execute(
                "UPDATE customer_groups SET name = coalesce(%s, name), updated_at = now() "
                "WHERE customer_group_id = %s AND account_id = %s RETURNING 1",
                (_clean_name(name) if name is not None else None, group_id, account_id),
            ).fetchone()
            if found is None:
                raise CustomerGroupNotFound(None)
            if remove_external_ids:
                conn.execute(
                    "DELETE FROM customer_group_members WHERE customer_group_id = %s "
                    "AND external_id = ANY(%s)",
                    (group_id, list(remove_external_ids)),
                )
            self._add(conn, account_id, group_id, add_external_ids)
            return self._get(conn, account_id, group_id)

    def delete(self, account_id: UUID, group_id: UUID) -> None:
        with account_connection(self.pool, account_id) as conn:
            deleted = conn.execute(
                "DELETE FROM customer_groups WHERE customer_group_id = %s AND account_id = %s",
                (group_id, account_id),
            )
            if deleted.rowcount == 0:
                raise CustomerGroupNotFound(None)
            conn.execute(
                "DELETE FROM customer_group_members WHERE customer_group_id = %s", (group_id,)
            )

    @staticmethod
    def _add(
        conn: Connection[Any], account_id: UUID, group_id: UUID, external_ids: Sequence[str]
    ) -> None:
        if external_ids:
            conn.execute(
                "INSERT INTO customer_group_members "
                "(customer_group_id, account_id, external_id, fields) "
                "SELECT %s, account_id, external_id, fields FROM customers "
                "WHERE account_id = %s AND external_id = ANY(%s) ON CONFLICT DO NOTHING",
                (group_id, account_id, list(external_ids)),
            )

    @staticmethod
    def _get(conn: Connection[Any], account_id: UUID, group_id: UUID) -> GroupSummary:
        row = conn.execute(
            _SELECT + "WHERE g.customer_group_id = %s AND g.account_id = %s",
            (group_id, account_id),
        ).fetchone()
        if row is None:
            raise CustomerGroupNotFound(None)
        return GroupSummary(*row)
