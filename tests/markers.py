"""Every test is exactly one kind, so `pytest -m unit`, `-m integration` and `-m e2e` together
select the whole suite once (the kinds are described under `markers` in pyproject.toml)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

KINDS = ("unit", "integration", "e2e")

# The tests of this session that carry no kind or more than one, filled at collection.
MISMARKED = pytest.StashKey[list[str]]()


def kinds(item: pytest.Item) -> set[str]:
    return {mark.name for mark in item.iter_markers() if mark.name in KINDS}


def mismarked(items: Iterable[pytest.Item]) -> list[str]:
    """One line per test that is not exactly one kind: its node id and the kinds it has."""
    return [
        f"{item.nodeid}: {', '.join(sorted(found)) or 'no kind'}"
        for item in items
        if len(found := kinds(item)) != 1
    ]
