"""An upload takes its rows as a stream and holds one at a time, rejected ones included."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from application.content.customers import REJECTED_LISTED, Customers
from application.content.fields import CustomerFields

pytestmark = pytest.mark.integration

ROWS = 20_000


def rows() -> Iterator[Any]:
    for i in range(ROWS):
        yield {"external_id": f"customer-{i:06d}", "fields": {"plan": "gold"}}
        yield {"external_id": f"rejected-{i:06d}", "fields": {"shoe": i}}


@pytest.mark.parametrize("validate_only", [False, True])
def test_an_upload_holds_a_row_at_a_time(pool: Any, account_id: UUID, validate_only: bool) -> None:
    CustomerFields(pool).create(account_id, "plan", "string", False)
    customers = Customers(pool)
    customers.upload(account_id, iter([]))  # the pool's connection is open before measuring

    tracemalloc.start()
    try:
        result = customers.upload(account_id, rows(), validate_only=validate_only)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert (result.accepted, result.rejected_count) == (ROWS, ROWS)
    assert len(result.rejected) == REJECTED_LISTED
    assert customers.count(account_id) == (0 if validate_only else ROWS)
    # The listed rejections and a row in flight; every row at once would be megabytes.
    assert peak < 1_500_000
