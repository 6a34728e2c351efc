"""Customers: upload with per-row validation (upsert by external_id), paging, deletion.

An upload takes its rows as a stream and keeps none of them: each is validated and
written with COPY into a temporary table as it comes, then all are merged with one
``INSERT ... ON CONFLICT``, so an upload of half a million rows is a few statements and
holds one row at a time. Of the rejected rows the answer lists the first
``REJECTED_LISTED`` and counts them all.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from psycopg_pool import ConnectionPool

from application.content.fields import CustomerField, CustomerFields
from application.json_numbers import is_wide_integer
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
    external_id: str | None
    errors: list[str]


REJECTED_LISTED = 1_000


@dataclass
class UploadResult:
    accepted: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)  # the first REJECTED_LISTED
    rejected_count: int = 0

    def take(self, index: int, row: object, fields: Mapping[str, CustomerField]) -> bytes | None:
        """Count ``row`` in; its fields as JSON when it is accepted, else None."""
        errors = row_errors(row, fields)
        if errors:
            self.rejected_count += 1
            if len(self.rejected) < REJECTED_LISTED:
                external_id = row.get("external_id") if isinstance(row, dict) else None
                self.rejected.append(RejectedRow(index, _echoed(external_id), errors))
            return None
        assert isinstance(row, dict)
        self.accepted += 1
        return orjson.dumps({k: v for k, v in row.get("fields", {}).items() if v is not None})


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


def _echoed(external_id: object) -> str | None:
    """A rejected row's external_id as it can be answered, always text or null: a string
    as sent, a number or boolean as its JSON text (an integer beyond 64 bits as its
    digits), an object, a list or nothing as null."""
    if isinstance(external_id, str):
        return external_id
    if isinstance(external_id, bool | int | float):
        return json.dumps(external_id)
    return None


class Customers:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.fields = CustomerFields(pool)

    def upload(
        self, account_id: UUID, rows: Iterable[object], *, validate_only: bool = False
    ) -> UploadResult:
        """``rows`` are consumed once, in order; a row's index is its place among them."""
        fields = {f.name: f for f in self.fields.all(account_id)}
        result = UploadResult()
        if validate_only:
            for index, row in enumerate(rows):
                result.take(index, row, fields)
            return result
        with account_connection(self.pool, account_id) as conn:
            conn.execute(
                "CREATE TEMPORARY TABLE upload (ordinal int, external_id text, fields jsonb) "
                "ON COMMIT DROP"
            )
            with conn.cursor() as cur:
                with cur.copy("COPY upload (ordinal, external_id, fields) FROM STDIN") as copy:
                    for index, row in enumerate(rows):
                        values = result.take(index, row, fields)
                        if values is not None:
                            assert isinstance(row, dict)
                            copy.write_row((index, row["external_id"], values.decode()))
                if not result.accepted:
                    return result
                # The last row of an external_id wins, as if the rows were sent one by one.
                cur.execute(
                    "INSERT INTO customers (account_id, external_id, fields) "
                    "SELECT DISTINCT ON (external_id) %s, external_id, fields FROM upload "
                    "ORDER BY external_id, ordinal DESC "
                    "ON CONFLICT (account_id, external_id) DO UPDATE "
                    "SET fields = EXCLUDED.fields, updated_at = now()",
                    (account_id,),
                )
        return result

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
