"""Every authentication failure, in the order they are checked, and the token endpoints."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from uuid import uuid4

import jwt
import pytest

from tests.api_client import Api, auth_context

pytestmark = pytest.mark.integration

HISTORY = "/v1/campaign/rerun/history"


def call(api: Api, **header_changes: str | None) -> tuple[int, str]:
    headers = api.headers()
    for name, value in header_changes.items():
        name = name.replace("_", "-")
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    response = api.http.post(HISTORY, json={"campaign_id": str(uuid4())}, headers=headers)
    return response.status_code, response.json()["message"]


def signed(
    api: Api, claims: dict[str, object], secret: str | None = None, alg: str = "HS256"
) -> str:
    return "Bearer " + jwt.encode(claims, secret or api.secret, algorithm=alg)


def claims_of(api: Api, **changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "user_id": api.user_id,
        "account_id": str(api.account_id),
        "role_code": None,
        "iat": int(time.time()),
        "exp": int(time.time()) + 600,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def test_valid_headers_reach_the_endpoint(api: Api) -> None:
    assert call(api) == (404, "Campaign not found")


@pytest.mark.parametrize(
    "context",
    [None, "not json", "[]", '{"api_access": true}', '{"api_access": true, "api_code": 7}'],
)
def test_missing_or_malformed_auth_context_is_unauthorized(api: Api, context: str | None) -> None:
    assert call(api, x_auth_context=context) == (403, "Unauthorized")


def test_wrong_api_code_is_unauthorized(api: Api) -> None:
    assert call(api, x_auth_context=auth_context("wrong-code")) == (403, "Unauthorized")


def test_api_code_is_checked_before_the_jwt(api: Api) -> None:
    assert call(api, x_auth_context=auth_context("wrong"), authorization=None) == (
        403,
        "Unauthorized",
    )


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Basic abc", "Bearer not.a.jwt"],
)
def test_missing_or_malformed_jwt_is_auth_error(api: Api, authorization: str | None) -> None:
    assert call(api, authorization=authorization) == (403, "auth error")


@pytest.mark.parametrize(
    "make",
    [
        lambda api: signed(api, claims_of(api), secret="another-secret-entirely"),
        lambda api: signed(api, claims_of(api, exp=int(time.time()) - 10)),
        lambda api: signed(api, claims_of(api, exp=...)),
        lambda api: signed(api, claims_of(api), alg="HS512"),
        lambda api: "Bearer " + jwt.encode(claims_of(api), None, algorithm="none"),
        lambda api: signed(api, claims_of(api, account_id=str(uuid4()))),
        lambda api: signed(api, claims_of(api, account_id="not-a-uuid")),
        lambda api: signed(api, claims_of(api, user_id=...)),
        lambda api: signed(api, claims_of(api, user_id="")),
    ],
    ids=[
        "bad-signature",
        "expired",
        "no-exp",
        "hs512",
        "alg-none",
        "unknown-account",
        "malformed-account",
        "no-user",
        "empty-user",
    ],
)
def test_invalid_jwt_is_auth_error(api: Api, make: Callable[[Api], str]) -> None:
    assert call(api, authorization=make(api)) == (403, "auth error")


def test_jwt_is_checked_before_api_access(api: Api) -> None:
    no_access = auth_context(api.api_code, api_access=False)
    assert call(api, x_auth_context=no_access, authorization=None) == (403, "auth error")


@pytest.mark.parametrize(
    "context",
    [
        lambda code: json.dumps({"api_access": False, "api_code": code}),
        lambda code: json.dumps({"api_code": code}),
        lambda code: json.dumps({"api_access": "true", "api_code": code}),
    ],
)
def test_api_access_not_true_is_unauthorized(api: Api, context: Callable[[str], str]) -> None:
    assert call(api, x_auth_context=context(api.api_code)) == (403, "Unauthorized")


@pytest.mark.parametrize("ip", [None, "", "   "])
def test_missing_x_ip_is_auth_error(api: Api, ip: str | None) -> None:
    assert call(api, x_ip=ip) == (403, "auth error")


def test_auth_failure_comes_before_body_checks(api: Api) -> None:
    headers = {**api.headers(), "x-auth-context": auth_context("wrong")}
    response = api.http.post("/v1/campaign/rerun/initiate", json={}, headers=headers)
    assert response.status_code == 403


def test_account_with_own_secret_rejects_server_signed_tokens(
    new_api: Callable[..., Api], server_secret: str
) -> None:
    own = new_api(own_secret=True)
    assert own.secret != server_secret

    assert call(own) == (404, "Campaign not found")
    assert call(own, authorization=signed(own, claims_of(own), secret=server_secret)) == (
        403,
        "auth error",
    )


def authenticate(api: Api, body: dict[str, object], **headers: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    sent = {"x-auth-context": auth_context(api.api_code), "x-ip": api.ip, **headers}
    response = api.http.post("/v1/auth/authenticate", json=body, headers=sent)
    return response.status_code, response.json()


@pytest.mark.parametrize("own_secret", [False, True])
def test_authenticate_with_api_key_issues_a_working_token(
    new_api: Callable[..., Api], own_secret: bool
) -> None:
    api = new_api(own_secret=own_secret)

    status, body = authenticate(
        api, {"api_key": api.api_key, "user_id": "u-9", "role_code": "admin"}
    )

    assert status == 200
    data = body["data"]
    assert data["token_type"] == "Bearer"
    assert data["expires_in"] > 0
    assert data["account_id"] == str(api.account_id)
    claims = jwt.decode(data["token"], api.secret, algorithms=["HS256"])
    assert (claims["user_id"], claims["role_code"]) == ("u-9", "admin")
    assert call(api, authorization="Bearer " + data["token"]) == (404, "Campaign not found")


def test_authenticate_with_wrong_key_is_auth_error(api: Api) -> None:
    assert authenticate(api, {"api_key": "nsk_wrong", "user_id": "u"})[1]["message"] == "auth error"
    assert authenticate(api, {"api_key": "nsk_wrong", "user_id": "u"})[0] == 403


def test_authenticate_checks_headers_then_body(api: Api) -> None:
    bad_code = {"x-auth-context": auth_context("wrong")}
    assert authenticate(api, {}, **bad_code)[0] == 403
    assert authenticate(api, {"api_key": api.api_key}) == (
        401,
        {"message": "Missing required fields", "code": "missing_required_fields"},
    )
    assert (
        authenticate(api, {"api_key": api.api_key, "user_id": "u"}, **{"x-ip": ""})[1]["message"]
        == "auth error"
    )


def test_reauthenticate_returns_a_fresh_token_with_the_same_claims(api: Api) -> None:
    response = api.http.get("/v1/auth/reauthenticate", headers=api.headers())

    assert response.status_code == 200
    claims = jwt.decode(response.json()["data"]["token"], api.secret, algorithms=["HS256"])
    assert claims["user_id"] == api.user_id
    assert claims["account_id"] == str(api.account_id)


def test_reauthenticate_requires_a_valid_jwt(api: Api) -> None:
    headers = {**api.headers(), "authorization": signed(api, claims_of(api), secret="x" * 40)}
    response = api.http.get("/v1/auth/reauthenticate", headers=headers)
    assert (response.status_code, response.json()["message"]) == (403, "auth error")
