"""Careless and hostile requests answer a clear 4xx in the usual error shape, never a 5xx."""

from __future__ import annotations

import time
from typing import Any
from uuid import uuid4

import pytest

from tests.e2e.client import Api
from tests.integration.conftest import ACCOUNT_CACHE_SECONDS, Served

pytestmark = pytest.mark.integration

HISTORY = "/v1/campaign/rerun/history"
ID = str(uuid4())


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
            {"name": "n", "customer_group_id": ID, "segment_variables": [], "ai_config": {}},
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
