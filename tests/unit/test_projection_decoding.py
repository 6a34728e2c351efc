"""The projections' own decoder of the log's transcoded JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import pytest

from projections.events import decode_state, decode_value, event_type
from projections.projector import distinct_chunks

pytestmark = pytest.mark.unit

ID = UUID("157af52190d95dc398c203b979d07f37")


def test_decodes_uuid_datetime_and_decimal_anywhere():
    state = (
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-11-26T23:26:03.285187+00:00"},'
        b'"message_id":{"_type_":"uuid_hex","_data_":"157af52190d95dc398c203b979d07f37"},'
        b'"nested":[{"price":{"_type_":"decimal_str","_data_":"1.10"}}],"model":null}'
    )

    decoded = decode_state(state)

    assert decoded["timestamp"] == datetime(2026, 11, 26, 23, 26, 3, 285187, tzinfo=UTC)
    assert decoded["message_id"] == ID
    assert decoded["nested"] == [{"price": Decimal("1.10")}]
    assert decoded["model"] is None


def test_plain_dicts_and_unknown_types_pass_through():
    assert decode_value({"_type_": "x"}) == {"_type_": "x"}
    assert decode_value({"_type_": "tuple_as_list", "_data_": [1, 2]}) == [1, 2]
    assert decode_value({"values": {"plan": "gold"}}) == {"values": {"plan": "gold"}}


def test_event_type_is_the_class_name_of_the_topic():
    assert event_type("domain.campaign:Campaign.RunStarted") == "RunStarted"


def test_distinct_chunks_split_where_a_key_repeats_and_keep_order():
    assert distinct_chunks([1, 2, 1, 3, 3], key=lambda x: x) == [[1, 2], [1, 3], [3]]
    assert distinct_chunks([], key=lambda x: x) == []
