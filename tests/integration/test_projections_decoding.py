"""The SQL decoders read the library's transcoded JSON exactly as Python would."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import pytest
from psycopg import sql

from projections.decoding import datetime_iso, decimal_str, integer, text, uuid_hex

pytestmark = pytest.mark.integration

STATE = (
    b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-11-26T23:26:03.285187+00:00"},'
    b'"message_id":{"_type_":"uuid_hex","_data_":"157af52190d95dc398c203b979d07f37"},'
    b'"price":{"_type_":"decimal_str","_data_":"1.10"},"run_number":3,"name":"Spring"}'
)


def test_sql_decoders_match_the_python_values(pool):
    expressions = ", ".join(
        [
            datetime_iso("timestamp"),
            uuid_hex("message_id"),
            decimal_str("price"),
            integer("run_number"),
            text("name"),
        ]
    )
    query = sql.SQL(
        f"SELECT {expressions} FROM (SELECT convert_from(%s::bytea, 'UTF8')::jsonb AS j) AS e"
    )  # type: ignore[arg-type]
    with pool.connection() as conn:
        row = conn.execute(query, (STATE,)).fetchone()

    assert row == (
        datetime(2026, 11, 26, 23, 26, 3, 285187, tzinfo=UTC),
        UUID("157af52190d95dc398c203b979d07f37"),
        Decimal("1.10"),
        3,
        "Spring",
    )
