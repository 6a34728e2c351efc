"""What a request may write into the immutable log about who sent it and from where.

``x-ip`` must be an IP address; a forwarded chain ("client, proxy, ...") keeps its first
valid address; the stored value is the normalised address. ``user_id`` is printable, at
most 200 characters, and never one of the names the system writes its own events as.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import jwt
import pytest

from application.audit import export_events
from tests.api_client import TEMPLATE, Api, auth_context, customers
from tests.integration.conftest import Served

pytestmark = pytest.mark.integration

HISTORY = "/v1/campaign/rerun/history"


def create_campaign(api: Api, ip: str) -> Any:
    api.define_fields("plan", "region")
    group = api.group("g", customers("c", [("gold", "EU")]))
    body = {
        "name": "Spring",
        "customer_group_id": group,
        "segment_variables": ["plan", "region"],
        "ai_config": TEMPLATE,
    }
    return api.post("/v1/campaign/create", body, headers={"x-ip": ip})


def stored_ips(served: Served, campaign_id: str) -> set[str]:
    with served.pool.connection() as conn:
        return {e["metadata"]["ip"] for e in export_events(conn, campaign_id=UUID(campaign_id))}


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("10.0.0.1", "10.0.0.1"),
        (" 2001:DB8:0:0::1 ", "2001:db8::1"),
        ("10.0.0.1, <script>alert(1)</script>", "10.0.0.1"),
        ("unknown, 192.0.2.7, 10.0.0.1", "192.0.2.7"),
    ],
)
def test_the_stored_ip_is_the_normalised_first_valid_address(
    served: Served, api: Api, sent: str, stored: str
) -> None:
    response = create_campaign(api, sent)

    assert response.status_code == 200, response.text
    assert stored_ips(served, response.json()["data"]["campaign_id"]) == {stored}


@pytest.mark.parametrize(
    "sent",
    [
        "not-an-ip",
        "<script>alert(1)</script>",
        "999.1.1.1",
        "10.0.0.0/8",
        "fe80::1%<b>",
        "1" * 4000,
        ",",
    ],
)
def test_anything_but_an_ip_address_is_refused_and_never_stored(api: Api, sent: str) -> None:
    for response in (
        create_campaign(api, sent),
        api.http.post(
            "/v1/auth/authenticate",
            json={"api_key": api.api_key, "user_id": "u"},
            headers={"x-auth-context": auth_context(api.api_code), "x-ip": sent},
        ),
    ):
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "invalid_ip"
        assert "x-ip" in response.json()["message"]


def authenticate(api: Api, user_id: str) -> Any:
    headers = {"x-auth-context": auth_context(api.api_code), "x-ip": api.ip}
    body = {"api_key": api.api_key, "user_id": user_id}
    return api.http.post("/v1/auth/authenticate", json=body, headers=headers)


@pytest.mark.parametrize("user_id", ["a\nb", "tab\there", "bell\x07", "x" * 201, "a\u2028b"])
def test_user_id_must_be_printable_and_at_most_200_characters(api: Api, user_id: str) -> None:
    response = authenticate(api, user_id)

    assert response.status_code == 400, response.text
    assert "user_id" in response.json()["message"]


@pytest.mark.parametrize("user_id", ["processor", "Processor", " system ", "demo"])
def test_the_systems_own_actor_names_cannot_be_claimed(api: Api, user_id: str) -> None:
    response = authenticate(api, user_id)

    assert response.status_code == 400, response.text
    assert response.json() == {
        "message": f"user_id {user_id.strip()!r} is reserved for the system's own actions",
        "code": "reserved_user_id",
    }


@pytest.mark.parametrize("user_id", ["processor", "a\nb"])
def test_a_token_naming_a_reserved_or_unprintable_user_is_refused(api: Api, user_id: str) -> None:
    token = jwt.encode(
        {"user_id": user_id, "account_id": str(api.account_id), "exp": 4_000_000_000},
        api.secret,
        algorithm="HS256",
    )
    headers = {**api.headers(), "authorization": f"Bearer {token}"}

    response = api.http.post(HISTORY, json={"campaign_id": str(api.account_id)}, headers=headers)

    assert (response.status_code, response.json()["message"]) == (403, "auth error")


def test_a_printable_user_id_of_200_characters_is_accepted(api: Api) -> None:
    assert authenticate(api, "Zoë O'Brien " + "x" * 188).status_code == 200
