"""Integers a JSON value may hold here: 64-bit signed.

A body may carry any integer, but the JSON encoder of the event store and of answers
writes 64 bits at most, and most clients read no more; a wider integer is refused where
it arrives, never met later as a failure to store or to answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

INT64 = range(-(2**63), 2**63)


def is_wide_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value not in INT64


def wide_integer_at(value: Any, path: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    """The path of the first integer beyond 64 bits inside ``value``; None when none is."""
    if is_wide_integer(value):
        return path
    items: Iterable[tuple[Any, Any]]
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = wide_integer_at(item, (*path, key))
        if found is not None:
            return found
    return None
