"""The projections' decoders of the log's transcoded JSON, as the SQL they generate."""

from __future__ import annotations

import pytest

from projections.decoding import count, datetime_iso, decimal_str, integer, text, uuid_hex
from projections.events import Group
from projections.projector import group_params

pytestmark = pytest.mark.unit


def test_transcoded_values_are_read_from_their_data_and_cast():
    assert uuid_hex("message_id") == "(e.j -> 'message_id' ->> '_data_')::uuid"
    assert datetime_iso("timestamp") == "(e.j -> 'timestamp' ->> '_data_')::timestamptz"
    assert decimal_str("price") == "(e.j -> 'price' ->> '_data_')::numeric"


def test_plain_values_and_staged_list_sizes():
    assert text("name") == "(e.j ->> 'name')"
    assert integer("run_number") == "(e.j ->> 'run_number')::int"
    assert count("segments") == "(e.j ->> 'segment_count')::int"
    assert count("new") == "(e.j ->> 'new_count')::int"


def test_group_params_are_the_groups_position_range():
    assert group_params(Group("MessageReviewed", 7, 9)) == {"lo": 7, "hi": 9}


def test_a_group_after_a_position_keeps_only_the_later_events():
    group = Group("MessageReviewed", 7, 9)
    assert group.after(6) == group
    assert group.after(8) == Group("MessageReviewed", 9, 9)
    assert group.after(9) is None
