"""Message events staged by the client (orjson, binary COPY) equal what the server-side
decoders stage for the same states, column for column, whatever the content; states the
client cannot read exactly are left to the server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid4

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from projections import staging
from projections.events import (
    BATCH_TABLE,
    COPY_STAGED,
    MESSAGE_EVENTS,
    STAGE_TABLE,
    stage_in_sql,
)

pytestmark = pytest.mark.integration

EVENTS = sql.Identifier("pg_temp", "staging_events")
READ_BACK = sql.SQL("SELECT * FROM {} ORDER BY id").format(BATCH_TABLE)


def transcoded(kind: str, data: str) -> dict[str, str]:
    return {"_type_": kind, "_data_": data}


moments = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
) | st.datetimes(timezones=st.just(timezone(timedelta(hours=5, minutes=30))))
texts = st.none() | st.text() | st.sampled_from(["\x00", "a\x00b", "\\u0000", "é", "🎉", ""])
uuids = st.none() | st.uuids().map(lambda u: transcoded("uuid_hex", u.hex))
runs = st.none() | st.integers(min_value=-(2**31), max_value=2**31 - 1)


@st.composite
def message_states(draw: st.DrawFn) -> dict[str, object]:
    state: dict[str, object] = {
        "timestamp": transcoded("datetime_iso", draw(moments).isoformat()),
        "run_number": draw(runs),
        "message_id": draw(uuids),
        "segment_key": draw(texts),
        "content": draw(texts),
        "decision": draw(texts),
        "copied_from_message_id": draw(uuids),
        "reason": draw(texts),
        "_meta": {"user_id": None},
    }
    for name in draw(st.sets(st.sampled_from(sorted(state)))):
        if name != "timestamp":
            del state[name]  # an absent field reads as NULL, as a null one does
    return state


# States the client must leave to the server: shapes the domain never writes.
odd_states = st.sampled_from(
    [
        {"timestamp": transcoded("datetime_iso", "2026-01-01T00:00:00")},  # naive
        {"timestamp": transcoded("datetime_iso", "2026-01-01T00:00:00.1234567+00:00")},
        {"timestamp": transcoded("datetime_iso", "2026-01-01 00:00:00+00:00")},
        {"timestamp": transcoded("datetime_iso", "2026-01-01T00:00:00Z")},
        {"timestamp": transcoded("datetime_iso", "2026-01-01T00:00:00+00:00"), "content": 5},
        {"timestamp": transcoded("datetime_iso", "2026-01-01T00:00:00+00:00"), "decision": ["x"]},
        {
            "timestamp": transcoded("datetime_iso", "2026-01-01T00:00:00+00:00"),
            "message_id": transcoded("uuid_hex", str(UUID(int=7))),  # hyphenated
        },
    ]
)


def client_rows(conn, events):  # type: ignore[no-untyped-def]
    rows, left = [], []
    for position, campaign_id, type_name, state in events:
        try:
            rows.append(staging.message_row(position, campaign_id.bytes, type_name, state))
        except staging.NotStageable:
            left.append(position)
    if rows:
        with conn.cursor().copy(COPY_STAGED) as copy:
            copy.write(staging.copy_data(rows))
    if left:
        conn.execute(stage_in_sql(EVENTS), (left,))
    return conn.execute(READ_BACK).fetchall(), left


def server_rows(conn, events):  # type: ignore[no-untyped-def]
    conn.execute(sql.SQL("DELETE FROM {}").format(BATCH_TABLE))
    conn.execute(stage_in_sql(EVENTS), ([position for position, *_ in events],))
    return conn.execute(READ_BACK).fetchall()


def staged_both_ways(pool, states, types):  # type: ignore[no-untyped-def]
    events = [
        (position, uuid4(), type_name, orjson.dumps(state))
        for position, (state, type_name) in enumerate(zip(states, types, strict=True), 1)
    ]
    with pool.connection() as conn, conn.transaction():
        conn.execute(STAGE_TABLE)
        conn.execute(
            sql.SQL(
                "CREATE TEMP TABLE IF NOT EXISTS {} (notification_id bigint, originator_id uuid,"
                " topic text, state bytea) ON COMMIT DELETE ROWS"
            ).format(EVENTS)
        )
        with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(EVENTS)) as copy:
            for position, campaign_id, type_name, state in events:
                copy.write_row(
                    (position, campaign_id, f"domain.campaign:Campaign.{type_name}", state)
                )
        by_client, left = client_rows(conn, events)
        by_server = server_rows(conn, events)
    return by_client, by_server, left


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    states=st.lists(message_states(), min_size=1, max_size=20),
    data=st.data(),
)
def test_client_staging_equals_server_staging(pool, states, data):  # type: ignore[no-untyped-def]
    types = [data.draw(st.sampled_from(MESSAGE_EVENTS)) for _ in states]

    by_client, by_server, left = staged_both_ways(pool, states, types)

    assert left == []  # every state the domain writes is staged by the client
    assert by_client == by_server


@given(
    odd=st.lists(odd_states, min_size=1, max_size=5),
    ordinary=st.lists(message_states(), max_size=5),
)
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_states_the_client_cannot_read_exactly_go_to_the_server(pool, odd, ordinary):  # type: ignore[no-untyped-def]
    states = [*ordinary, *odd]

    by_client, by_server, left = staged_both_ways(pool, states, ["MessageGenerated"] * len(states))

    assert left == list(range(len(ordinary) + 1, len(states) + 1))
    assert by_client == by_server


def test_nul_is_staged_as_the_replacement_character(pool):  # type: ignore[no-untyped-def]
    state = {
        "timestamp": transcoded("datetime_iso", "2026-11-27T01:52:28.191498+00:00"),
        "content": "a\x00b",
    }

    by_client, by_server, _ = staged_both_ways(pool, [state], ["MessageEdited"])

    assert by_client[0][7] == "a\ufffdb" == by_server[0][7]
