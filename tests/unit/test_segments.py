"""The segment key rule: normalised, typed values; the same values give the same key."""

from __future__ import annotations

import math
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.segments import Segment, canonical_json, normalise_name, normalise_value, segment_key

pytestmark = pytest.mark.unit

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
value_maps = st.dictionaries(st.text(min_size=1, max_size=8), scalars, max_size=5).filter(
    lambda d: (
        "" not in {normalise_name(k) for k in d} and len({normalise_name(k) for k in d}) == len(d)
    )
)


def test_key_is_prefixed_and_fixed_length():
    key = segment_key({"plan": "gold"})

    assert key.startswith("sg_")
    assert len(key) == 3 + 32


def test_strings_are_nfc_normalised():
    composed = unicodedata.normalize("NFC", "Café")
    decomposed = unicodedata.normalize("NFD", "Café")
    assert composed != decomposed

    assert segment_key({"city": composed}) == segment_key({"city": decomposed})


def test_variable_names_are_nfc_normalised_and_stripped():
    assert segment_key({" Caf\u0065\u0301 ": "x"}) == segment_key({"Café": "x"})


def test_surrounding_whitespace_is_stripped_but_inner_whitespace_kept():
    assert segment_key({"plan": "  Gold \n"}) == segment_key({"plan": "Gold"})
    assert segment_key({"plan": "Go ld"}) != segment_key({"plan": "Gold"})


def test_case_is_significant():
    assert segment_key({"plan": "gold"}) != segment_key({"plan": "Gold"})


def test_string_number_and_boolean_are_different_values():
    keys = {
        segment_key({"v": "1"}),
        segment_key({"v": 1}),
        segment_key({"v": True}),
        segment_key({"v": "true"}),
    }

    assert len(keys) == 4


def test_zero_and_false_and_null_and_empty_string_differ():
    keys = {segment_key({"v": v}) for v in (0, False, None, "")}

    assert len(keys) == 4


def test_integral_float_is_the_integer():
    assert segment_key({"v": 1.0}) == segment_key({"v": 1})
    assert normalise_value(1.0) == 1
    assert isinstance(normalise_value(1.0), int)
    assert segment_key({"v": 1.5}) != segment_key({"v": 1})


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(bad):
    with pytest.raises(ValueError, match="finite"):
        segment_key({"v": bad})


def test_unsupported_types_are_refused():
    with pytest.raises(TypeError):
        segment_key({"v": [1, 2]})


def test_missing_value_is_null_and_its_own_segment():
    assert segment_key({"plan": None}) != segment_key({"plan": "None"})
    assert segment_key({"plan": None}) == segment_key({"plan": None})


def test_segment_of_keeps_normalised_values():
    segment = Segment.of({" plan ": " gold ", "n": 2.0}, customer_count=3)

    assert segment.values == {"plan": "gold", "n": 2}
    assert segment.key == segment_key({"plan": "gold", "n": 2})
    assert segment.customer_count == 3


@pytest.mark.parametrize(
    "values", [{"\x0c": None, "\r": False}, {"plan": 1, " plan ": 2}, {"  ": "x"}]
)
def test_names_empty_or_colliding_once_normalised_are_refused(values):
    with pytest.raises(ValueError, match="distinct once normalised"):
        segment_key(values)


@given(value_maps, st.randoms())
def test_key_does_not_depend_on_variable_order(values, random):
    items = list(values.items())
    random.shuffle(items)

    assert segment_key(dict(items)) == segment_key(values)


@given(value_maps)
def test_key_is_a_function_of_the_canonical_json(values):
    assert segment_key(values) == segment_key(dict(values))
    assert canonical_json(values) == canonical_json(dict(reversed(list(values.items()))))


@given(value_maps, value_maps)
def test_different_normalised_values_give_different_keys(a, b):
    if canonical_json(a) != canonical_json(b):
        assert segment_key(a) != segment_key(b)
    else:
        assert segment_key(a) == segment_key(b)


@given(st.text(max_size=12))
def test_string_normalisation_is_idempotent(text):
    once = normalise_value(text)

    assert normalise_value(once) == once
    assert segment_key({"v": text}) == segment_key({"v": once})
