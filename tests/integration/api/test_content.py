"""Customer fields, customers and customer groups over HTTP."""

from __future__ import annotations

import pytest

from tests.api_client import Api, customers

pytestmark = pytest.mark.integration


def test_field_lifecycle_create_list_update_delete(api: Api) -> None:
    created = api.ok("/v1/customer-fields/create", {"name": "plan", "type": "string"})["data"]
    api.ok("/v1/customer-fields/create", {"name": "age", "type": "number", "required": True})
    duplicate = api.post("/v1/customer-fields/create", {"name": "plan", "type": "number"})
    api.upload([{"external_id": "f1", "fields": {"plan": "gold", "age": 40}}])

    renamed = api.ok(
        "/v1/customer-fields/update", {"field_id": created["field_id"], "name": "tier"}
    )["data"]
    listed = api.ok("/v1/customer-fields/list", {})
    customer = api.ok("/v1/customers/list", {})["data"][0]
    retyped = api.post(
        "/v1/customer-fields/update", {"field_id": created["field_id"], "type": "number"}
    )
    api.ok("/v1/customer-fields/delete", {"field_id": created["field_id"]})

    assert duplicate.status_code == 400
    assert renamed["name"] == "tier"
    assert [f["name"] for f in listed["data"]] == ["age", "tier"]
    assert customer["fields"] == {"tier": "gold", "age": 40}
    assert retyped.status_code == 400
    assert api.ok("/v1/customers/list", {})["data"][0]["fields"] == {"age": 40}
    assert [f["name"] for f in api.ok("/v1/customer-fields/list", {})["data"]] == ["age"]


def test_field_type_must_be_known(api: Api) -> None:
    response = api.post("/v1/customer-fields/create", {"name": "x", "type": "date"})
    assert response.status_code == 400
    assert "type" in response.json()["message"]


def test_upload_keeps_good_rows_and_reports_bad_ones(api: Api) -> None:
    api.ok("/v1/customer-fields/create", {"name": "plan", "type": "string", "required": True})
    api.ok("/v1/customer-fields/create", {"name": "age", "type": "number"})
    api.ok("/v1/customer-fields/create", {"name": "vip", "type": "boolean"})
    rows = [
        {"external_id": "ok-1", "fields": {"plan": "gold", "age": 30, "vip": True}},
        {"external_id": "", "fields": {"plan": "gold"}},
        {"fields": {"plan": "gold"}},
        {"external_id": "bad-field", "fields": {"plan": "gold", "shoe": 42}},
        {"external_id": "bad-type", "fields": {"plan": "gold", "age": "old", "vip": 1}},
        {"external_id": "no-plan", "fields": {"age": 3}},
        "not an object",
        {"external_id": "ok-2", "fields": {"plan": "silver"}},
    ]

    result = api.upload(rows)

    assert result["accepted"] == 2
    rejected = {r["index"]: r for r in result["rejected"]}
    assert sorted(rejected) == [1, 2, 3, 4, 5, 6]
    assert "external_id" in rejected[1]["errors"][0]
    assert "external_id" in rejected[2]["errors"][0]
    assert "shoe" in rejected[3]["errors"][0]
    assert len(rejected[4]["errors"]) == 2
    assert rejected[4]["external_id"] == "bad-type"
    assert "plan" in rejected[5]["errors"][0]
    listed = api.ok("/v1/customers/list", {})["data"]
    assert [c["external_id"] for c in listed] == ["ok-1", "ok-2"]


def test_upload_upserts_by_external_id_and_validate_only_changes_nothing(api: Api) -> None:
    api.define_fields("plan", "region")
    api.upload([{"external_id": "u1", "fields": {"plan": "gold", "region": "EU"}}])
    checked = api.ok(
        "/v1/customers/upload",
        {"customers": [{"external_id": "u1", "fields": {"plan": "x"}}], "validate_only": True},
    )["data"]
    api.upload(
        [
            {"external_id": "u1", "fields": {"plan": "silver"}},
            {"external_id": "u2", "fields": {"plan": "first"}},
            {"external_id": "u2", "fields": {"plan": "last wins"}},
        ]
    )

    assert checked == {"accepted": 1, "rejected_count": 0, "rejected": []}
    listed = {c["external_id"]: c["fields"] for c in api.ok("/v1/customers/list", {})["data"]}
    assert listed == {"u1": {"plan": "silver"}, "u2": {"plan": "last wins"}}


def test_customers_pages_list_and_delete(api: Api) -> None:
    api.define_fields("plan", "region")
    api.upload(customers("p", [("gold", "EU"), ("silver", "US")], each=3))

    pages = api.ok("/v1/customers/pages", {"page_size": 4})["data"]
    second = api.ok("/v1/customers/list", {"page": 2, "page_size": 4})
    deleted = api.ok("/v1/customers/delete", {"external_ids": ["p-gold-EU-0", "nope"]})["data"]

    assert pages == {"total": 6, "total_pages": 2}
    assert len(second["data"]) == 2
    assert second["pagination"] == {"page": 2, "page_size": 4, "total": 6, "total_pages": 2}
    assert deleted == {"deleted": 1}
    assert api.ok("/v1/customers/pages", {})["data"]["total"] == 5


def test_group_lifecycle(api: Api) -> None:
    api.define_fields("plan", "region")
    api.upload(customers("g", [("gold", "EU")], each=4))
    created = api.ok(
        "/v1/customer-groups/create",
        {"name": "VIP", "external_ids": ["g-gold-EU-0", "g-gold-EU-1", "unknown"]},
    )["data"]
    group_id = created["customer_group_id"]

    updated = api.ok(
        "/v1/customer-groups/update",
        {
            "customer_group_id": group_id,
            "name": "VIP+",
            "add_external_ids": ["g-gold-EU-2", "g-gold-EU-3"],
            "remove_external_ids": ["g-gold-EU-0"],
        },
    )["data"]
    listed = api.ok("/v1/customer-groups/list", {})
    api.ok("/v1/customer-groups/delete", {"customer_group_id": group_id})

    assert (created["name"], created["customer_count"]) == ("VIP", 2)
    assert (updated["name"], updated["customer_count"]) == ("VIP+", 3)
    assert [g["customer_group_id"] for g in listed["data"]] == [group_id]
    assert api.ok("/v1/customer-groups/list", {})["data"] == []
    gone = api.post("/v1/customer-groups/delete", {"customer_group_id": group_id})
    assert (gone.status_code, gone.json()["message"]) == (404, "Customer group not found")


def test_group_used_by_a_current_run_cannot_be_deleted(api: Api) -> None:
    api.define_fields("plan", "region")
    group = api.group("in-use", customers("d", [("gold", "EU")]))
    api.create_campaign(group)

    response = api.post("/v1/customer-groups/delete", {"customer_group_id": group})

    assert response.status_code == 400
    assert [g["customer_group_id"] for g in api.ok("/v1/customer-groups/list", {})["data"]] == [
        group
    ]


def test_campaign_template_naming_an_unsegmented_variable_is_400(api: Api) -> None:
    api.define_fields("plan", "region")
    group = api.group("g", customers("t", [("gold", "EU")]))
    body = {
        "name": "x",
        "customer_group_id": group,
        "segment_variables": ["plan"],
        "ai_config": {"provider": "template", "template": "Hi {{plan}} in {{region}}"},
    }
    response = api.post("/v1/campaign/create", body)
    assert response.status_code == 400
    assert "region" in response.json()["message"]


def test_probes_answer_without_auth(api: Api) -> None:
    assert api.http.get("/health").json() == {"data": {"status": "ok"}}
    ready = api.http.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["data"]["database"] == "ok"
    assert ready.json()["data"]["projections"]
    metrics = api.http.get("/metrics")
    assert metrics.status_code == 200
    assert "nudgescribe_http_requests_total" in metrics.text
