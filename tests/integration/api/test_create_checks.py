"""Create refuses, with a 400 and the reason, a campaign whose run is certain to fail:
a provider this server has no endpoint for, or a template that renders an empty or
over-long message (by its fixed text alone, or for a segment the group already holds)."""

from __future__ import annotations

from typing import Any

import pytest

from application.generators.base import MAX_CONTENT_CHARS
from tests.api_client import Api, customers

pytestmark = pytest.mark.integration

CREATE = "/v1/campaign/create"


def definition(group_id: str, ai_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "Checked",
        "customer_group_id": group_id,
        "segment_variables": ["plan", "region"],
        "ai_config": ai_config,
    }


def refused(api: Api, body: dict[str, Any], code: str) -> str:
    response = api.post(CREATE, body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code, response.text
    message: str = response.json()["message"]
    return message


def stored_campaign_names(api: Api) -> list[str]:
    """The account's campaigns, once a valid create (read-your-writes) has been projected:
    anything a refused create had stored before it would be listed too."""
    api.create_campaign(api.group("valid", customers("valid", [("gold", "EU")])), name="Valid")
    return [c["name"] for c in api.ok("/v1/campaign/list", {})["data"]]


def test_openai_without_an_endpoint_on_the_server_is_400_and_stores_nothing(api: Api) -> None:
    api.define_fields("plan", "region")
    group_id = api.group("g", customers("o", [("gold", "EU")]))
    openai = {"provider": "openai", "model": "m", "prompt": "Offer for {{plan}} in {{region}}"}

    message = refused(api, definition(group_id, openai), "provider_not_configured")

    assert "openai" in message
    assert stored_campaign_names(api) == ["Valid"]


def test_template_rendering_empty_for_a_segment_with_missing_values_is_400(api: Api) -> None:
    api.define_fields("plan", "region")
    rows = [
        *customers("e", [("gold", "EU")]),
        {"external_id": "no-plan", "fields": {"region": "EU"}},
    ]
    group_id = api.group("g", rows)

    message = refused(
        api,
        definition(group_id, {"provider": "template", "template": " {{plan}} "}),
        "template_cannot_render",
    )

    assert "empty" in message
    assert "plan" in message
    assert stored_campaign_names(api) == ["Valid"]


def test_template_of_variables_only_is_accepted_when_every_segment_has_values(api: Api) -> None:
    api.define_fields("plan", "region")
    group_id = api.group("g", customers("v", [("gold", "EU"), ("silver", "US")]))

    body = definition(group_id, {"provider": "template", "template": "{{plan}}{{region}}"})
    created = api.ok(CREATE, body)["data"]

    assert api.wait_for_job(str(created["job_uid"]))["phase"] == "Completed"


def test_template_whose_fixed_text_exceeds_a_message_is_400(api: Api) -> None:
    api.define_fields("plan", "region")
    group_id = api.group("g", customers("f", [("gold", "EU")]))
    template = "x" * (MAX_CONTENT_CHARS + 1) + "{{plan}}"

    message = refused(
        api,
        definition(group_id, {"provider": "template", "template": template}),
        "template_cannot_render",
    )

    assert str(MAX_CONTENT_CHARS) in message


def test_a_group_value_longer_than_a_message_is_400_naming_the_field(api: Api) -> None:
    api.define_fields("plan", "region")
    long_plan = "p" * (MAX_CONTENT_CHARS + 1)
    rows = [
        *customers("l", [("gold", "EU")]),
        {"external_id": "long-plan", "fields": {"plan": long_plan, "region": "EU"}},
    ]
    group_id = api.group("g", rows)
    template = {"provider": "template", "template": "Hi {{plan}} member in {{region}}!"}

    message = refused(api, definition(group_id, template), "template_cannot_render")

    assert "'plan'" in message
    assert str(MAX_CONTENT_CHARS) in message
    assert long_plan not in message  # the reason, never the customer's value
    assert stored_campaign_names(api) == ["Valid"]


def test_a_valid_campaign_is_still_created(api: Api) -> None:
    api.define_fields("plan", "region")
    group_id = api.group("g", customers("ok", [("gold", "EU"), ("silver", "US")]))

    created = api.create_campaign(group_id)

    assert created["run_number"] == 1
    assert api.campaign(str(created["campaign_id"]))["status"] == "Ready for review"
