"""The comparison of two runs as algebra: matched, new and orphaned partition the keys."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.segments import Segment, compare, segment_key

pytestmark = pytest.mark.unit

keys = st.sets(st.text(alphabet="abcdef", min_size=1, max_size=3), max_size=20)
customers = st.lists(
    st.fixed_dictionaries(
        {"plan": st.sampled_from(["gold", " gold", "silver", "1", 1, 1.0, True, None])},
        optional={"region": st.sampled_from(["EU", "US", "eu"])},
    ),
    max_size=30,
)


def segments_of(rows: list[dict[str, object]]) -> dict[str, Segment]:
    """Group customers into segments the way the store does: by canonical key."""
    counts = Counter(segment_key(row) for row in rows)
    values = {segment_key(row): row for row in rows}
    return {k: Segment.of(values[k], n) for k, n in counts.items()}


@given(keys, keys)
def test_matched_and_new_partition_the_current_segments(previous, current):
    result = compare(previous, current)

    assert set(result.matched) | set(result.new) == current
    assert not set(result.matched) & set(result.new)


@given(keys, keys)
def test_orphaned_is_previous_minus_current(previous, current):
    result = compare(previous, current)

    assert set(result.orphaned) == previous - current
    assert set(result.matched) == previous & current
    assert set(result.matched) | set(result.orphaned) == previous


@given(keys, keys)
def test_lists_are_sorted_and_without_duplicates(previous, current):
    result = compare(previous, current)

    for part in (result.matched, result.new, result.orphaned):
        assert part == sorted(set(part))


@given(keys)
def test_first_run_is_all_new(current):
    result = compare([], current)

    assert result.new == sorted(current)
    assert result.matched == []
    assert result.orphaned == []


@given(keys)
def test_same_audience_is_all_matched(current):
    result = compare(current, current)

    assert result.matched == sorted(current)
    assert result.new == []
    assert result.orphaned == []


@given(customers, st.randoms())
def test_segment_keys_stable_under_reordering_of_customers(rows, random):
    shuffled = list(rows)
    random.shuffle(shuffled)

    original, reordered = segments_of(rows), segments_of(shuffled)

    assert original.keys() == reordered.keys()
    assert {k: s.customer_count for k, s in original.items()} == {
        k: s.customer_count for k, s in reordered.items()
    }
    assert compare(original, reordered).new == []


@given(customers, customers)
def test_comparison_of_grouped_customers_obeys_the_algebra(before, after):
    previous, current = segments_of(before), segments_of(after)

    result = compare(previous, current)

    assert set(result.matched) | set(result.new) == current.keys()
    assert set(result.orphaned) == previous.keys() - current.keys()
    assert sum(s.customer_count for s in current.values()) == len(after)
