"""Customers: upload with per-row validation (upsert by external_id), paging, deletion.

Valid rows are streamed with COPY into a temporary table and merged with one
``INSERT ... ON CONFLICT``, so an upload of a hundred thousand rows is a few statements.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from psycopg_pool import ConnectionPool

from application.content.fields import CustomerField, CustomerFields
from application.json_numbers import is_wide_integer, wide_integer_at
from application.row_security import account_connection


@dataclass(frozen=True)
class Customer:
    external_id: str
    fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class RejectedRow:
    index: int
    external_id: Any
    errors: list[str]


@dataclass(frozen=True)
class UploadResult:
    accepted: int
    rejected: list[RejectedRow] = field(default_factory=list)


def row_errors(row: object, fields: Mapping[str, CustomerField]) -> list[str]:
    if not isinstance(row, dict):
        return ["row must be an object with external_id and fields"]
    errors: list[str] = []
    external_id = row.get("external_id")
    if external_id is None or external_id == "":
        errors.append("external_id is missing or empty")
    elif not isinstance(external_id, str):
        errors.append("external_id must be a string")
    values = row.get("fields", {})
    if not isinstance(values, dict):
        return [*errors, "fields must be an object"]
    for name, value in values.items():
        defined = fields.get(name)
        if defined is None:
            errors.append(f"field '{name}' is not defined for this account")
        elif not defined.accepts(value):
            errors.append(f"field '{name}' must be a {defined.type}")
        elif isinstance(value, float) and not math.isfinite(value):
            errors.append(f"field '{name}' must be a finite number")
        elif is_wide_integer(value):
            errors.append(f"field '{name}' is an integer beyond 64 bits")
    errors.extend(
        f"required field '{name}' is missing"
        for name, defined in fields.items()
        if defined.required and values.get(name) is None
    )
    return errors


def _echoed(external_id: object) -> object:
    """A rejected row's external_id as it can be answered: an integer beyond 64 bits as
    its digits, an object or list holding one not at all."""
    if is_wide_integer(external_id):
        return str(external_id)
    return None if wide_integer_at(external_id) is not None else external_id


class Customers:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.fields = CustomerFields(pool)

    def upload(
        self, account_id: UUID, rows: Sequence[object], *, validate_only: bool = False
    ) -> UploadResult:
        fields = {f.name: f for f in self.fields.all(account_id)}
        rejected: list[RejectedRow] = []
        accepted: list[tuple[int, str, bytes]] = []
        for index, row in enumerate(rows):
            errors = row_errors(row, fields)
            if errors:
                external_id = row.get("external_id") if isinstance(row, dict) else None
                rejected.append(RejectedRow(index, _echoed(external_id), errors))
            else:
                assert isinstance(row, dict)
                values = {k: v for k, v in row.get("fields", {}).items() if v is not None}
                accepted.append((index, row["external_id"], orjson.dumps(values)))
        if accepted and not validate_only:
            self._upsert(account_id, accepted)
        return UploadResult(len(accepted), rejected)

    def _upsert(self, account_id: UUID, rows: list[tuple[int, str, bytes]]) -> None:
        with account_connection(self.pool, account_id) as conn:
            conn.execute(
                "CREATE TEMPORARY TABLE upload (ordinal int, external_id text, fields jsonb) "
                "ON COMMIT DROP"
            )
            with conn.cursor() as cur:
                with cur.copy("COPY upload (ordinal, external_id, fields) FROM STDIN") as copy:
                    for ordinal, external_id, values in rows:
                        copy.write_row((ordinal, external_id, values.decode()))
                # The last row of an external_id wins, as if the rows were sent one by one.
                cur.execute(
                    "INSERT INTO customers (account_id, external_id, fields) "
                    "SELECT DISTINCT ON (external_id) %s, external_id, fields FROM upload "
                    "ORDER BY external_id, ordinal DESC "
                    "ON CONFLICT (account_id, external_id) DO UPDATE "
                    "SET fields = EXCLUDED.fields, updated_at = now()",
                    (account_id,),
                )

    def page(self, account_id: UUID, page: int, page_size: int) -> tuple[list[Customer], int]:
        with account_connection(self.pool, account_id) as conn:
            rows = conn.execute(
                "SELECT external_id, fields, created_at, updated_at FROM customers "
                "WHERE account_id = %s ORDER BY external_id LIMIT %s OFFSET %s",
                (account_id, page_size, (page - 1) * page_size),
            ).fetchall()
        return [Customer(*r) for r in rows], self.count(account_id)

    def count(self, account_id: UUID) -> int:
        with account_connection(self.pool, account_id) as conn:
            row = conn.execute(
                "SELECT count(*) FROM customers WHERE account_id = %s", (account_id,)
            ).fetchone()
        return int(row[0]) if row else 0

    def delete(self, account_id: UUID, external_ids: Sequence[str]) -> int:
        """Delete customers and their group memberships; answers how many existed."""
        with account_connection(self.pool, account_id) as conn:
            conn.execute(
                "DELETE FROM customer_group_members WHERE account_id = %s "
                "AND external_id = ANY(%s)",
                (account_id, list(external_ids)),
            )
            cur = conn.execute(
                "DELETE FROM customers WHERE account_id = %s AND external_id = ANY(%s)",
                (account_id, list(external_ids)),
            )
            return cur.rowcount
