"""Customer profile fields: the typed attributes an account's customers may carry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from psycopg import Connection
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool

from application.content.errors import CustomerFieldExists, CustomerFieldNotFound, InvalidContent
from application.row_security import account_connection
from domain.segments import normalise_name

_JSONB_TYPE = {"string": "string", "number": "number", "boolean": "boolean"}
_COLUMNS = "field_id, name, type, required, created_at"


@dataclass(frozen=True)
class CustomerField:
    field_id: UUID
    name: str
    type: str
    required: bool
    created_at: datetime

    def accepts(self, value: Any) -> bool:
        """JSON type check; null means "no value" and is judged by ``required`` instead."""
        if value is None:
            return True
        if self.type == "boolean":
            return isinstance(value, bool)
        if self.type == "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        return isinstance(value, str)


def _clean_name(name: str) -> str:
    cleaned = normalise_name(name)
    if not cleaned:
        raise InvalidContent(None, "name must not be empty")
    return cleaned


class CustomerFields:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def create(self, account_id: UUID, name: str, type: str, required: bool) -> CustomerField:
        try:
            with account_connection(self.pool, account_id) as conn:
                row = conn.execute(
                    f"INSERT INTO customer_fields (field_id, account_id, name, type, required) "
                    f"VALUES (%s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
                    (uuid4(), account_id, _clean_name(name), type, required),
                ).fetchone()
        except pg_errors.UniqueViolation:
            raise CustomerFieldExists(None) from None
        assert row is not None
        return CustomerField(*row)

    def all(self, account_id: UUID) -> list[CustomerField]:
        with account_connection(self.pool, account_id) as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM customer_fields WHERE account_id = %s ORDER BY name",
                (account_id,),
            ).fetchall()
        return [CustomerField(*r) for r in rows]

    def update(
        self,
        account_id: UUID,
        field_id: UUID,
        *,
        name: str | None = None,
        type: str | None = None,
        required: bool | None = None,
    ) -> CustomerField:
        """Rename (customers' values follow), retype (only if every value fits), or flag."""
        try:
            with account_connection(self.pool, account_id) as conn:
                current = self._locked(conn, account_id, field_id)
                new_name = _clean_name(name) if name is not None else current.name
                if type is not None and type != current.type:
                    clash = conn.execute(
                        "SELECT 1 FROM customers WHERE account_id = %s AND fields ? %s "
                        "AND jsonb_typeof(fields -> %s) NOT IN ('null', %s) LIMIT 1",
                        (account_id, current.name, current.name, _JSONB_TYPE[type]),
                    ).fetchone()
                    if clash:
                        raise InvalidContent(None, f"type: existing values are not {type}s")
                if new_name != current.name:
                    conn.execute(
                        "UPDATE customers SET fields = (fields - %s) || "
                        "jsonb_build_object(%s::text, fields -> %s), updated_at = now() "
                        "WHERE account_id = %s AND fields ? %s",
                        (current.name, new_name, current.name, account_id, current.name),
                    )
                row = conn.execute(
                    f"UPDATE customer_fields SET name = %s, type = %s, required = %s "
                    f"WHERE field_id = %s RETURNING {_COLUMNS}",
                    (
                        new_name,
                        type or current.type,
                        current.required if required is None else required,
                        field_id,
                    ),
                ).fetchone()
        except pg_errors.UniqueViolation:
            raise CustomerFieldExists(None) from None
        assert row is not None
        return CustomerField(*row)

    def delete(self, account_id: UUID, field_id: UUID) -> None:
        """Delete the field and its values on every customer of the account."""
        with account_connection(self.pool, account_id) as conn:
            current = self._locked(conn, account_id, field_id)
            conn.execute(
                "UPDATE customers SET fields = fields - %s, updated_at = now() "
                "WHERE account_id = %s AND fields ? %s",
                (current.name, account_id, current.name),
            )
            conn.execute("DELETE FROM customer_fields WHERE field_id = %s", (field_id,))

    @staticmethod
    def _locked(conn: Connection[Any], account_id: UUID, field_id: UUID) -> CustomerField:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM customer_fields "
            "WHERE field_id = %s AND account_id = %s FOR UPDATE",
            (field_id, account_id),
        ).fetchone()
        if row is None:
            raise CustomerFieldNotFound(None)
        return CustomerField(*row)
