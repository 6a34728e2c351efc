"""A large body is decoded an item at a time: its rows never exist all at once."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from api.body import UPLOAD_LIMIT
from api.models.content import CustomersUpload
from api.streamed_body import LargeBody, StreamedBody

pytestmark = pytest.mark.unit

ROWS = 20_000


def upload_body(rows: int) -> bytes:
    customers = [
        {"external_id": f"customer-{i}", "fields": {"plan": "gold", "region": "EU", "n": i}}
        for i in range(rows)
    ]
    return orjson.dumps({"validate_only": False, "customers": customers, "note": [1, 2]})


def peak_allocated(work: Callable[[], Any]) -> tuple[Any, int]:
    """What ``work`` answers, and the most memory Python had allocated meanwhile (traced
    allocations: the same on every run, unlike a process's RSS)."""
    tracemalloc.start()
    try:
        answer = work()
        return answer, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_rows_of_a_body_are_decoded_one_at_a_time() -> None:
    raw = upload_body(ROWS)
    body: LargeBody[CustomersUpload] = LargeBody(
        StreamedBody(CustomersUpload, "customers", UPLOAD_LIMIT), None, raw
    )

    def check_and_stream() -> tuple[bool, int, Any]:
        model = body.check()
        count, last = 0, None
        for row in body.items():
            count, last = count + 1, row
        return model.validate_only, count, last

    (validate_only, count, last), peak = peak_allocated(check_and_stream)

    assert (validate_only, count) == (False, ROWS)
    assert last == {"external_id": f"customer-{ROWS - 1}", "fields": {"plan": "gold",
                    "region": "EU", "n": ROWS - 1}}  # fmt: skip
    # The body's text (as long as its bytes) and a row at a time: all the rows at once
    # would take about ten times the body.
    _, all_at_once = peak_allocated(lambda: orjson.loads(raw))
    assert all_at_once > 5 * len(raw)
    assert peak < 1.5 * len(raw)
