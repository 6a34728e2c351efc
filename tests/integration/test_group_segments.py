"""A group's segments, computed from the fields its members carry, follow every content write."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from application.content.customer_groups import CustomerGroups
from application.content.customers import Customers
from application.content.fields import CustomerFields
from application.content.groups import CustomerGroup, GroupSegments

pytestmark = pytest.mark.integration


def counts(pool: Any, account_id: UUID, group_id: UUID, variables: list[str]) -> dict[Any, int]:
    group = CustomerGroup(group_id, account_id, "g")
    return {
        tuple(s.values[v] for v in variables): s.customer_count
        for s in GroupSegments(pool).segments(group, variables)
    }


def upload(pool: Any, account_id: UUID, rows: list[tuple[str, dict[str, Any]]]) -> None:
    result = Customers(pool).upload(account_id, [{"external_id": e, "fields": f} for e, f in rows])
    assert not result.rejected


def test_segments_keep_each_fields_json_type(pool: Any, account_id: UUID) -> None:
    fields = CustomerFields(pool)
    fields.create(account_id, "plan", "string", False)
    fields.create(account_id, "seats", "number", False)
    fields.create(account_id, "vip", "boolean", False)
    upload(
        pool,
        account_id,
        [
            ("a", {"plan": "1", "seats": 1, "vip": True}),
            ("b", {"plan": "1", "seats": 1.0, "vip": True}),
            ("c", {"plan": "1", "seats": 2.5, "vip": False}),
            ("d", {"plan": "1"}),
        ],
    )
    group = CustomerGroups(pool).create(account_id, "all", ["a", "b", "c", "d"])

    found = counts(pool, account_id, group.customer_group_id, ["plan", "seats", "vip"])

    assert found == {("1", 1, True): 2, ("1", 2.5, False): 1, ("1", None, None): 1}


def test_segments_follow_reuploads_and_field_renames(pool: Any, account_id: UUID) -> None:
    fields = CustomerFields(pool)
    plan = fields.create(account_id, "plan", "string", False)
    upload(pool, account_id, [("a", {"plan": "gold"}), ("b", {"plan": "gold"})])
    group = CustomerGroups(pool).create(account_id, "all", ["a", "b"])

    upload(pool, account_id, [("b", {"plan": "silver"})])
    assert counts(pool, account_id, group.customer_group_id, ["plan"]) == {
        ("gold",): 1,
        ("silver",): 1,
    }

    fields.update(account_id, plan.field_id, name="tier")
    assert counts(pool, account_id, group.customer_group_id, ["tier"]) == {
        ("gold",): 1,
        ("silver",): 1,
    }


def test_a_member_inserted_without_fields_gets_its_customers(pool: Any, account_id: UUID) -> None:
    CustomerFields(pool).create(account_id, "plan", "string", False)
    upload(pool, account_id, [("a", {"plan": "gold"})])
    group = CustomerGroups(pool).create(account_id, "none", [])
    with pool.connection() as conn:
        conn.execute(
            "INSERT INTO customer_group_members (customer_group_id, account_id, external_id) "
            "VALUES (%s, %s, 'a')",
            (group.customer_group_id, account_id),
        )

    assert counts(pool, account_id, group.customer_group_id, ["plan"]) == {("gold",): 1}


@pytest.mark.parametrize("name", ["a%%b", "50% off", "%s", "%(account)s", "it's"])
def test_a_field_name_is_never_read_as_sql(pool: Any, account_id: UUID, name: str) -> None:
    CustomerFields(pool).create(account_id, name, "string", False)
    upload(pool, account_id, [("a", {name: "x"}), ("b", {name: "y"}), ("c", {name: "y"})])
    group = CustomerGroups(pool).create(account_id, "all", ["a", "b", "c"])

    found = counts(pool, account_id, group.customer_group_id, [name, "undeclared %s"])

    assert found == {("x", None): 1, ("y", None): 2}
