"""Segments: a unique combination of customer variable values, and its canonical key.

The key rule (documented in the README):

* variable names and string values are normalised to Unicode NFC with surrounding
  whitespace stripped, so "Gold " and "Gold" are the same value; names that are empty,
  or that two of which become the same, once normalised are refused;
* values keep their JSON type: the string "1", the number 1 and the boolean true are
  three different values; an integral float is the integer (1.0 is 1); NaN and
  infinities are refused; a missing value is null and forms its own segment;
* the key is ``sg_`` + the first 32 hex digits of SHA-256 over the canonical JSON of
  the normalised values (keys sorted, no whitespace), so the same values give the same
  key in every run, whatever order the customers or variables came in.
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

SegmentValue = str | int | float | bool | None


def normalise_name(name: str) -> str:
    return unicodedata.normalize("NFC", name).strip()


def normalise_value(value: object) -> SegmentValue:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value).strip()
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"segment values must be finite numbers, got {value!r}")
        return int(value) if value.is_integer() else value
    raise TypeError(f"unsupported segment value type: {type(value).__name__}")


def normalise_values(values: Mapping[str, object]) -> dict[str, SegmentValue]:
    normalised = {normalise_name(k): normalise_value(v) for k, v in values.items()}
    # Two names that normalise alike (or to nothing) would make the key depend on the
    # order the variables came in: refuse them instead.
    if len(normalised) != len(values) or "" in normalised:
        raise ValueError("segment variable names must be non-empty and distinct once normalised")
    return normalised


def canonical_json(values: Mapping[str, object]) -> str:
    return json.dumps(
        normalise_values(values), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def segment_key(values: Mapping[str, object]) -> str:
    digest = hashlib.sha256(canonical_json(values).encode("utf-8")).hexdigest()
    return "sg_" + digest[:32]


@dataclass(frozen=True)
class Segment:
    key: str
    values: dict[str, SegmentValue]
    customer_count: int

    @classmethod
    def of(cls, values: Mapping[str, object], customer_count: int) -> Segment:
        return cls(segment_key(values), normalise_values(values), customer_count)


@dataclass(frozen=True)
class Comparison:
    """How a run's segments relate to the previous run's: sorted segment keys."""

    matched: list[str]
    new: list[str]
    orphaned: list[str]


def compare(previous_keys: Iterable[str], current_keys: Iterable[str]) -> Comparison:
    previous, current = set(previous_keys), set(current_keys)
    return Comparison(
        matched=sorted(previous & current),
        new=sorted(current - previous),
        orphaned=sorted(previous - current),
    )
