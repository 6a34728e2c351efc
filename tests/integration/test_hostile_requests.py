"""Careless and hostile requests answer a clear 4xx in the usual error shape, never a 5xx."""

from __future__ import annotations

import time
from typing import Any
from uuid import uuid4

import pytest

from tests.api_client import TEMPLATE, Api, customers
from tests.integration.conftest import ACCOUNT_CACHE_SECONDS, Served

pytestmark = pytest.mark.integration

HISTORY = "/v1/campaign/rerun/history"
ID = str(uuid4())
WIDE = 2**64  # one past the largest unsigned 64-bit integer


def test_a_deleted_accounts_tokens_stop_working_once_the_cache_lets_go(
    served: Served, api: Api
) -> None:
    body = {"campaign_id": str(api.account_id)}
    assert api.post(HISTORY, body).status_code == 404  # authenticated, then not found
    assert api.http.get("/v1/auth/reauthenticate", headers=api.headers()).status_code == 200

    with served.pool.connection() as conn:
        conn.execute("DELETE FROM accounts WHERE account_id = %s", (api.account_id,))
    time.sleep(ACCOUNT_CACHE_SECONDS * 2)

    for response in (
        api.post(HISTORY, body),
        api.http.get("/v1/auth/reauthenticate", headers=api.headers()),
        api.post("/v1/customer-fields/list", {}),
    ):
        assert response.status_code == 403, response.text
        assert response.json() == {"message": "auth error", "code": "auth_error"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/v1/campaign/create",
            {
                "name": "n",
                "customer_group_id": ID,
                "segment_variables": [],
                "ai_config": {"template": "Hi"},
            },
        ),
        ("/v1/campaign/rerun/initiate", {"campaign_id": ID, "new_customer_group_id": ID}),
    ],
)
def test_an_empty_idempotency_key_is_refused(api: Api, path: str, body: dict[str, Any]) -> None:
    assert api.post(path, body).status_code == 404  # the body is fine

    response = api.post(path, body, headers={"Idempotency-Key": ""})

    assert response.status_code == 400, response.text
    assert response.json() == {
        "message": "Idempotency-Key must not be empty (omit the header for no key)",
        "code": "invalid_idempotency_key",
    }


def test_not_found_and_method_not_allowed_have_snake_case_codes(api: Api) -> None:
    missing = api.http.get("/v1/nothing-here")
    wrong_method = api.http.get("/v1/campaign/create")

    assert (missing.status_code, missing.json()) == (
        404,
        {"message": "Not found", "code": "not_found"},
    )
    assert (wrong_method.status_code, wrong_method.json()) == (
        405,
        {"message": "Method not allowed", "code": "method_not_allowed"},
    )
    assert wrong_method.headers["allow"] == "POST"


@pytest.mark.parametrize("validate_only", [False, True])
@pytest.mark.parametrize("wide", [WIDE, -(2**63) - 1, 2**63])
def test_an_integer_beyond_64_bits_rejects_its_row_only(
    api: Api, validate_only: bool, wide: int
) -> None:
    api.ok("/v1/customer-fields/create", {"name": "score", "type": "number"})
    rows: list[Any] = [
        {"external_id": "ok", "fields": {"score": 2**63 - 1}},
        {"external_id": "wide-value", "fields": {"score": wide}},
        {"external_id": wide, "fields": {"score": 1}},
        {"external_id": {"nested": [wide]}, "fields": {"score": 1}},
    ]

    result = api.ok("/v1/customers/upload", {"customers": rows, "validate_only": validate_only})

    assert result["data"]["accepted"] == 1
    rejected = {r["index"]: r for r in result["data"]["rejected"]}
    assert rejected[1]["errors"] == ["field 'score' is an integer beyond 64 bits"]
    assert rejected[2]["errors"] == ["external_id must be a string"]
    assert rejected[2]["external_id"] == str(wide)
    assert (rejected[3]["external_id"], rejected[3]["errors"]) == (
        None,
        ["external_id must be a string"],
    )
    listed = api.ok("/v1/customers/list", {})["data"]
    assert [c["external_id"] for c in listed] == ([] if validate_only else ["ok"])


def test_an_integer_beyond_64_bits_in_ai_config_is_400_naming_it(api: Api) -> None:
    api.define_fields("plan", "region")
    group = api.group("g", customers("c", [("gold", "EU")]))
    body = {
        "name": "Spring",
        "customer_group_id": group,
        "segment_variables": ["plan", "region"],
        "ai_config": {"provider": "openai", "prompt": "Hi", "max_tokens": WIDE},
    }

    response = api.post("/v1/campaign/create", body)

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_field"
    assert response.json()["message"].startswith(
        "Invalid value for ai_config.openai.max_tokens: Input should be less than or equal to"
    )


def test_an_unknown_ai_config_key_is_ignored_whatever_it_holds(api: Api) -> None:
    api.define_fields("plan", "region")
    group = api.group("g", customers("c", [("gold", "EU")]))
    body = {
        "name": "Spring",
        "customer_group_id": group,
        "segment_variables": ["plan", "region"],
        "ai_config": {**TEMPLATE, "extra": [{"n": -WIDE}], "note": "\x00"},
    }

    created = api.ok("/v1/campaign/create", body)["data"]

    stored = api.ok("/v1/campaign/get", {"campaign_id": created["campaign_id"]})["data"]
    assert stored["ai_config"] == TEMPLATE
