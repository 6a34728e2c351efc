"""Careless and hostile requests answer a clear 4xx in the usual error shape, never a 5xx."""

from __future__ import annotations

import time

import pytest

from tests.e2e.client import Api
from tests.integration.conftest import ACCOUNT_CACHE_SECONDS, Served

pytestmark = pytest.mark.integration

HISTORY = "/v1/campaign/rerun/history"


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
