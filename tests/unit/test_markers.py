"""Every test carries exactly one of the markers unit, integration and e2e."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tests.markers import MISMARKED, mismarked

pytestmark = pytest.mark.unit


def test_every_collected_test_is_exactly_one_kind(request: pytest.FixtureRequest) -> None:
    assert request.config.stash[MISMARKED] == []


def test_a_test_with_no_kind_or_two_is_reported() -> None:
    def item(nodeid: str, *marks: pytest.MarkDecorator) -> Any:
        found = [mark.mark for mark in marks] + [pytest.mark.timeout(5).mark]
        return SimpleNamespace(nodeid=nodeid, iter_markers=lambda: iter(found))

    items = [
        item("one", pytest.mark.unit),
        item("none"),
        item("two", pytest.mark.unit, pytest.mark.e2e),
        item("twice", pytest.mark.integration, pytest.mark.integration),
    ]

    assert mismarked(items) == ["none: no kind", "two: e2e, unit"]
