"""Event versions without a database: the upcasters the mapper applies are the ones every
other reader applies, and the export's splice brings an older event to the current shape
exactly as decoding it would."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import orjson
import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, StoredEvent, UUIDAsHex
from eventsourcing.utils import get_topic

from application.audit import event_record
from application.export import _in_current_version
from application.metadata import MetadataMapper
from application.transcodings import OrjsonTranscoder, register_domain_transcodings
from domain.campaign import Campaign
from domain.versions import data_fields, event_classes, upcast, version_of
from projections.reader import to_event

pytestmark = pytest.mark.unit

TOPIC = get_topic(Campaign.MessageGenerated)
META = {"user_id": "processor", "account_id": None, "ip": None, "correlation_id": None}
VERSION_1 = {
    "timestamp": {"_type_": "datetime_iso", "_data_": "2026-05-01T12:00:00+00:00"},
    "run_number": 1,
    "message_id": {"_type_": "uuid_hex", "_data_": uuid4().hex},
    "segment_key": "sg_1",
    "content": "Hello",
    "generator": "openai",
    "model": "gpt-4o-mini",
    "prompt_digest": "0" * 64,
    "_meta": META,
}


def mapper() -> MetadataMapper:
    transcoder = OrjsonTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):  # as the store's
        transcoder.register(transcoding)
    register_domain_transcodings(transcoder)
    return MetadataMapper(transcoder)


def test_every_event_type_has_a_version_and_the_changed_ones_are_at_2() -> None:
    versions = {name: version_of(cls) for name, cls in event_classes().items()}
    assert len(versions) == 15
    assert versions["MessageGenerated"] == versions["RunFinalised"] == 2
    assert set(versions.values()) == {1, 2}


def test_the_mapper_and_the_other_readers_upcast_a_version_1_event_alike() -> None:
    state = orjson.dumps(VERSION_1)
    stream = uuid4()
    loaded = mapper().to_domain_event(StoredEvent(stream, 3, TOPIC, state))
    assert isinstance(loaded, Campaign.MessageGenerated)
    assert (loaded.usage, loaded.latency_ms) == (None, None)

    projected = to_event(7, stream, TOPIC, state)
    exported = event_record(7, stream, 3, TOPIC, state)
    fields = data_fields(Campaign.MessageGenerated)
    assert list(projected.data) == list(exported["data"]) == fields
    assert {f: getattr(loaded, f) for f in ("usage", "latency_ms")} == {
        f: projected[f] for f in ("usage", "latency_ms")
    }


def test_a_current_event_reads_back_without_its_stored_version() -> None:
    event = Campaign.MessageGenerated(
        originator_id=uuid4(), originator_version=2, timestamp=datetime.now(UTC),
        run_number=1, message_id=uuid4(), segment_key="sg_1", content="Hi", generator="openai",
        model="m", prompt_digest="d", usage={"prompt_tokens": 3, "completion_tokens": 1,
        "total_tokens": 4}, latency_ms=12.5,
    )  # fmt: skip
    stored = mapper().to_stored_event(event)
    assert orjson.loads(stored.state)["class_version"] == 2
    data = upcast(TOPIC, orjson.loads(stored.state))
    assert "class_version" not in data
    assert data["usage"] == {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}


def tail(state: dict[str, Any]) -> bytes:
    """A line's tail as the export's server-side cut makes it (before unwrapping)."""
    members = orjson.dumps({k: v for k, v in state.items() if k not in ("timestamp", "_meta")})
    moment = state["timestamp"]["_data_"].encode()
    meta = orjson.dumps(state["_meta"])
    return moment + b'","data":' + members + b',"metadata":' + meta + b"}\n"


STAMP = b',"class_version":2'


def test_the_splice_appends_what_an_upcaster_adds() -> None:
    upcast_tail = _in_current_version(tail(VERSION_1), TOPIC, STAMP)
    assert upcast_tail is not None
    assert upcast_tail.endswith(b'"usage":null,"latency_ms":null},"metadata":' + orjson.dumps(META)
                                + b"}\n")  # fmt: skip


def test_the_splice_cuts_the_stamp_of_a_current_event() -> None:
    current = {**VERSION_1, "usage": None, "latency_ms": 3.5, "class_version": 2}
    current["_meta"] = current.pop("_meta")  # the metadata is spliced in last
    cut = _in_current_version(tail(current), TOPIC, STAMP)
    assert cut is not None
    assert b"class_version" not in cut
    assert b'"latency_ms":3.5},"metadata":' in cut


class Renamed(Aggregate):
    class Happened(Aggregate.Event):
        class_version = 2
        new_name: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["new_name"] = state.pop("old_name")


def test_the_splice_leaves_an_upcast_that_changes_stored_members_to_the_decoder() -> None:
    topic = get_topic(Renamed.Happened)
    state = {"timestamp": VERSION_1["timestamp"], "old_name": "x", "_meta": META}
    assert _in_current_version(tail(state), topic, STAMP) is None  # decoded instead
    record = event_record(1, uuid4(), 1, topic, json.dumps(state).encode())
    assert record["data"] == {"new_name": "x"}


def test_the_docs_list_every_current_version_of_every_event_type_with_its_fields() -> None:
    documented = {}
    for line in (Path(__file__).parents[2] / "docs" / "events.md").read_text().splitlines():
        row = re.fullmatch(r"\| `(\w+)` \| (\d+) \| .* \| ([^|]*) \|", line)
        if row:  # the data cell's field names, less any (explanation of their parts)
            fields = re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", row[3]))
            documented[(row[1], int(row[2]))] = fields
    for name, cls in event_classes().items():
        assert documented.get((name, version_of(cls))) == data_fields(cls), name


class Grown(Aggregate):
    class Happened(Aggregate.Event):
        class_version = 3
        a: str
        b: int | None
        c: list[str]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["b"] = None

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["c"] = []


def test_the_splice_upcasts_from_each_older_version_as_the_decoder_does() -> None:
    topic, stamp = get_topic(Grown.Happened), b',"class_version":3'
    moment = VERSION_1["timestamp"]
    for stored in (
        {"timestamp": moment, "a": "x", "_meta": META},
        {"timestamp": moment, "a": "x", "b": 7, "class_version": 2, "_meta": META},
        {"timestamp": moment, "a": "x", "b": 7, "c": ["y"], "class_version": 3, "_meta": META},
    ):
        spliced = _in_current_version(tail(stored), topic, stamp)
        assert spliced is not None
        record = event_record(1, uuid4(), 1, topic, orjson.dumps(stored))
        data = spliced[spliced.index(b'"data":') + 7 : spliced.rindex(b',"metadata":')]
        assert data.decode() == json.dumps(record["data"], separators=(",", ":"))
        assert list(record["data"]) == ["a", "b", "c"]


@pytest.mark.parametrize("odd", ["", None, 0, 1, 3, True, 2.0])
def test_a_version_member_this_code_never_wrote_is_left_as_stored(odd: object) -> None:
    """Only a missing member (version 1) or a whole number from 2 up to the type's current
    version is a version: anything else (a newer version, say) is exported as stored."""
    state = {**VERSION_1, "class_version": odd}
    state["_meta"] = state.pop("_meta")
    assert _in_current_version(tail(state), TOPIC, STAMP) is None  # decoded instead
    data = event_record(1, uuid4(), 1, TOPIC, orjson.dumps(state))["data"]
    assert data["class_version"] == odd
    assert "usage" not in data
