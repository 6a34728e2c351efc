"""``export_lines`` (spliced in SQL and on whole pages) writes exactly the bytes of the
decoding export, ``json.dumps(event_record(...))`` a line, on real PostgreSQL.

Events are written the way the store writes them (its mapper, transcoder and metadata
splice) inside a transaction that is rolled back, so nothing is left in the shared log.
The rarer shapes the splice must refuse (ASCII-escaped text, ``\\/``, wrappers it cannot
unwrap, a missing or nested ``_meta``...) are stored by hand next to them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import orjson
import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.audit import export_events
from application.export import export_lines
from application.metadata import META_KEY, CommandContext, encoded_metadata, with_metadata
from application.store import CampaignStore
from domain.campaign import Campaign
from domain.segments import Segment

pytestmark = pytest.mark.integration

INSERT = (
    "INSERT INTO nudgescribe_events (originator_id, originator_version, topic, state) "
    "VALUES (%s, %s, %s, %s)"
)
RESERVED = {"originator_id", "originator_version", "timestamp", META_KEY}


class Happened:
    """Any object the mapper can store: its attributes are the event's state."""

    def __init__(self, **state: Any) -> None:
        self.__dict__.update(state)


def decoded_export(conn: psycopg.Connection[Any], **filters: Any) -> bytes:
    """What ``nudgescribe events export`` wrote before: the decoding path, re-encoded."""
    return b"".join(
        json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        for record in export_events(conn, **filters)
    )


def spliced_export(conn: psycopg.Connection[Any], **filters: Any) -> bytes:
    return b"".join(export_lines(conn, **filters))


@pytest.fixture(scope="module")
def conn(db) -> Iterator[psycopg.Connection[Any]]:  # type: ignore[no-untyped-def]
    with psycopg.connect(db.conninfo()) as connection:
        yield connection


# --- what events hold -------------------------------------------------------------------

texts = st.text() | st.sampled_from(
    ["", "\x00", "a\\u0000b", '"quoted"', "back\\slash", "é ü 漢 😀", "\u2028\u2029\x7f", "a/b"]
)
floats = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [1e-05, 0.0001, 1e-7, 1e16, 1.5e300, -0.0, 0.1, 123456789012345.6, 5e-324]
)
ints = st.integers(min_value=-(2**63), max_value=2**64 - 1)  # what orjson writes
scalars = (
    st.none()
    | st.booleans()
    | ints
    | floats
    | texts
    | st.uuids()
    | st.datetimes(timezones=st.none() | st.just(UTC))
    | st.decimals(allow_nan=False, allow_infinity=False)
)


def wrapper_lookalikes(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Plain dicts shaped like the transcoder's wrappers: the decoding path unwraps them."""
    kinds = st.sampled_from(["uuid_hex", "datetime_iso", "decimal_str", "other"])
    hexes = st.uuids().map(lambda u: u.hex) | st.uuids().map(lambda u: u.hex.upper())
    return st.one_of(
        st.fixed_dictionaries({"_type_": st.just("uuid_hex"), "_data_": hexes}),
        st.fixed_dictionaries(
            {"_type_": kinds.filter(lambda k: k != "uuid_hex"), "_data_": children}
        ),
        st.fixed_dictionaries({"_data_": texts, "_type_": st.just("other")}),
        st.fixed_dictionaries({"_type_": st.just("other"), "_data_": texts, "extra": ints}),
    )


values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            texts | st.sampled_from(sorted(RESERVED | {"user_id"})), children, max_size=4
        )
        | wrapper_lookalikes(children)
    ),
    max_leaves=12,
)
states = st.dictionaries(
    texts.filter(lambda key: key not in RESERVED) | st.just("originator_topic"),
    values,
    max_size=5,
)
# Everyday values, which the splice handles itself (the ones above often send an event the
# decoding way: a tiny float, a wrapper look-alike, an exponent...).
plain_texts = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\\"))
plain_values = st.recursive(
    st.none()
    | st.booleans()
    | ints
    | st.floats(min_value=-1e15, max_value=1e15).filter(lambda f: f == 0 or abs(f) >= 1e-4)
    | plain_texts
    | st.uuids()
    | st.datetimes(timezones=st.just(UTC))
    | st.decimals(places=2, allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(plain_texts, children, max_size=3)
    ),
    max_leaves=8,
)
plain_states = st.dictionaries(
    plain_texts.filter(lambda key: key not in RESERVED | {"originator_topic"}),
    plain_values,
    max_size=5,
)
contexts = st.builds(
    CommandContext,
    user_id=st.none() | texts,
    account_id=st.none() | texts | st.uuids(),
    ip=st.none() | st.just("127.0.0.1"),
    correlation_id=st.none() | texts,
)


def store_events(
    conn: psycopg.Connection[Any], store: CampaignStore, events: list[tuple[dict[str, Any], Any]]
) -> UUID:
    """Stores the events in one stream as the store writes them; returns the stream."""
    stream = uuid4()
    for version, (state, context) in enumerate(events, start=1):
        event = Happened(
            originator_id=stream,
            originator_version=version,
            timestamp=datetime.now(UTC),
            **state,
        )
        metadata = encoded_metadata(store.mapper, context)
        assert metadata is not None
        stored = with_metadata(store.mapper.to_stored_event(event), metadata)  # type: ignore[arg-type]
        conn.execute(INSERT, (stream, version, stored.topic, stored.state))
    return stream


@given(events=st.lists(st.tuples(plain_states | states, contexts), min_size=1, max_size=4))
def test_spliced_lines_are_the_decoded_lines_byte_for_byte(conn, store, events):
    with conn.transaction(force_rollback=True):
        stream = store_events(conn, store, events)
        expected = decoded_export(conn, campaign_id=stream)
        assert spliced_export(conn, campaign_id=stream) == expected
    assert expected.count(b"\n") == len(events)


# --- states the store does not write, stored by hand -------------------------------------


def stdlib_ascii(state: dict[str, Any], meta: bytes) -> bytes:
    """The library's JSON encoder with ASCII escapes (``\\u00e9``) and ``repr`` floats."""
    text = json.dumps(state, ensure_ascii=True, separators=(",", ":")).encode()
    return text[:-1] + b',"_meta":' + meta + b"}"


def variants(state: dict[str, Any], meta: bytes) -> dict[str, bytes]:
    """``state`` (JSON values, the timestamp wrapper first) stored in ways the store does
    not write, each of which the decoding path reads."""
    plain = orjson.dumps(state)
    spliced = plain[:-1] + b',"_meta":' + meta + b"}"
    fresh = json.dumps("~" * (1 + max(map(len, state)))).encode()  # a key state lacks
    reordered = orjson.dumps(dict(reversed(list(orjson.loads(meta).items()))))
    return {
        "ascii escapes": stdlib_ascii(state, meta),
        "escaped slashes": spliced.replace(b"/", b"\\/"),
        "no metadata": plain,
        "metadata first": b'{"_meta":' + meta + b"," + plain[1:],
        "metadata nested too": plain[:-1]
        + b","
        + fresh
        + b':{"_meta":'
        + meta
        + b"}"
        + spliced[len(plain) - 1 :],
        "metadata in another order": plain[:-1] + b',"_meta":' + reordered + b"}",
        "timestamp not first": b"{" + fresh + b":1," + spliced[1:],
        "only a timestamp": orjson.dumps({"timestamp": state["timestamp"]})[:-1]
        + b',"_meta":'
        + meta
        + b"}",
    }


@given(state=states, context=contexts)
def test_states_the_splice_cannot_vouch_for_are_decoded_instead(conn, store, state, context):
    transcoder = store.mapper.full_transcoder  # with the metadata: what the mapper writes
    encoded = orjson.loads(transcoder.encode({"timestamp": datetime.now(UTC)} | state))
    meta = transcoder.encode(asdict(context))
    stream = uuid4()
    with conn.transaction(force_rollback=True):
        for version, raw in enumerate(variants(encoded, meta).values(), start=1):
            conn.execute(INSERT, (stream, version, "tests:Happened", raw))
        expected = decoded_export(conn, campaign_id=stream)
        assert spliced_export(conn, campaign_id=stream) == expected
    assert expected.count(b"\n") == 8


@pytest.mark.parametrize(
    "text",
    [
        '{"_type_":"uuid_hex","_data_":"0123456789ABCDEF0123456789abcdef"}',
        '{"_data_":"0123456789abcdef0123456789abcdef","_type_":"uuid_hex"}',
        '{"_type_":"x","_data_":{"_type_":"uuid_hex","_data_":"0123456789abcdef0123456789abcdef"}}',
        "[1e-07,1e+16,0.00001,1.5e-5,-2e+20]",
        '{"n":1E+2}',
        '{"pretty":1,\n"printed":[1,\n2]}',
        '"tab\\there\\u0001\\u001f\\u0008"',
        '"\\u00e9\\ud83d\\ude00"',
        '{"user_id":"x","_meta":{"user_id":null,"account_id":null,"ip":null,"correlation_id":null}}',
    ],
)
def test_tricky_stored_text(conn, text):
    state = (
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-11-27T01:02:03.000001+00:00"},'
        b'"value":' + text.encode() + b',"_meta":{"user_id":"u\\u0000","account_id":null,'
        b'"ip":"::1","correlation_id":"c"}}'
    )
    stream = uuid4()
    with conn.transaction(force_rollback=True):
        conn.execute(INSERT, (stream, 1, "tests:Happened", state))
        expected = decoded_export(conn, campaign_id=stream)
        assert spliced_export(conn, campaign_id=stream) == expected
    assert expected.count(b"\n") == 1


# --- a real campaign -------------------------------------------------------------------


def test_a_10000_segment_run_exports_as_before_and_filters_by_position(conn, store):
    campaign = Campaign.create(
        account_id=uuid4(),
        name="export",
        segment_variables=["plan", "region"],
        ai_config={"provider": "template", "template": "Hi {{plan}} in {{region}}!", "t": 0.7},
        customer_group_id=uuid4(),
        created_by="auditor",
        campaign_id=uuid4(),
    )
    segments = [
        Segment.of({"plan": f"p{i}", "region": ["EU", "é/ü", 1.5, None, 10**12][i % 5]}, i + 1)
        for i in range(10_000)
    ]
    campaign.start_first_run(
        customer_group_id=uuid4(),
        customer_group_name="group",
        segments=segments,
        job_uid=uuid4(),
        initiated_by="u",
        ip="::1",
    )
    context = CommandContext.for_request(user_id="u", account_id=uuid4(), ip="::1")
    store.save_campaign(campaign, context=context)

    spliced = spliced_export(conn, campaign_id=campaign.id)
    assert spliced == decoded_export(conn, campaign_id=campaign.id)
    lines = spliced.splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["CampaignCreated", "RunStarted"]
    assert len(json.loads(lines[1])["data"]["segments"]) == 10_000
    first = json.loads(lines[0])["position"]
    after = spliced_export(conn, campaign_id=campaign.id, since=first)
    assert after == decoded_export(conn, campaign_id=campaign.id, since=first) == lines[1] + b"\n"


def test_a_whole_log_and_an_unknown_stream(conn):
    assert spliced_export(conn) == decoded_export(conn)
    assert spliced_export(conn, campaign_id=uuid4()) == b""


def test_decimal_and_datetime_values_inside_lists_unwrap(conn, store):
    events = [
        (
            {
                "amounts": [
                    Decimal("1.10"),
                    Decimal("-1E+3"),
                    {"at": datetime(2026, 1, 2, 3, 4, 5)},
                ],
                "ids": {"a": [uuid4(), str(uuid4())]},
            },
            CommandContext(user_id="u", account_id=str(uuid4()), ip="10.0.0.1"),
        )
    ]
    with conn.transaction(force_rollback=True):
        stream = store_events(conn, store, events)
        spliced = spliced_export(conn, campaign_id=stream)
        assert spliced == decoded_export(conn, campaign_id=stream)
    data = json.loads(spliced)["data"]
    assert data["amounts"][:2] == ["1.10", "-1E+3"]
    assert data["amounts"][2] == {"at": "2026-01-02T03:04:05"}
    assert str(UUID(data["ids"]["a"][0])) == data["ids"]["a"][0]
