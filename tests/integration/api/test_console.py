"""The review console's own rules through the app in this process: the session cookie's
attributes, CSRF and origin checks, readable refusals, the who/where of its commands, and
no 500 for any input. (A real browser drives the whole console in tests/e2e/.)"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from api.console.session import SESSION_COOKIE, SIGN_IN_COOKIE
from application.audit import stream_events, verify_stream
from tests.api_client import Api, customers

pytestmark = pytest.mark.integration

ORIGIN = "http://testserver"


def sign_in_form(http: TestClient) -> tuple[str, str]:
    """The sign-in page's CSRF token and the cookie it is paired with."""
    page = http.get("/console/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    return token.group(1), page.cookies[SIGN_IN_COOKIE]


def sign_in(http: TestClient, api_key: str, user_id: str = "reviewer") -> Any:
    token, cookie = sign_in_form(http)
    return http.post(
        "/console/sign-in",
        data={"csrf": token, "api_key": api_key, "user_id": user_id},
        headers={"cookie": f"{SIGN_IN_COOKIE}={cookie}", "origin": ORIGIN},
        follow_redirects=False,
    )


class Session:
    """A signed-in browser: its cookie sent by hand (it is ``Secure`` on this host)."""

    def __init__(self, http: TestClient, api_key: str, user_id: str = "reviewer") -> None:
        answer = sign_in(http, api_key, user_id)
        assert answer.status_code == 303, answer.text
        self.http = http
        self.cookie = answer.cookies[SESSION_COOKIE]
        self.set_cookie = answer.headers["set-cookie"]

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.http.get(path, headers={"cookie": f"{SESSION_COOKIE}={self.cookie}"}, **kwargs)

    def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.get("/console/campaigns").text)
        assert found is not None
        return found.group(1)

    def post(self, path: str, data: dict[str, Any], origin: str = ORIGIN) -> Any:
        return self.http.post(
            path,
            data=data,
            headers={"cookie": f"{SESSION_COOKIE}={self.cookie}", "origin": origin},
            follow_redirects=False,
        )

    def notice(self, answer: Any) -> str:
        """The notice the redirect carries to the next page."""
        assert answer.status_code == 303, answer.text
        cookie = answer.headers["set-cookie"]
        page = self.http.get(
            answer.headers["location"],
            headers={"cookie": f"{SESSION_COOKIE}={self.cookie}; {cookie.split(';')[0]}"},
        )
        found = re.search(r'class="notice notice-\w+" role="\w+">([^<]*)<', page.text)
        assert found is not None, page.text
        return found.group(1)


@pytest.fixture
def reviewer(api: Api, http: TestClient) -> Session:
    return Session(http, api.api_key)


def ready_campaign(api: Api) -> str:
    api.define_fields("plan", "region")
    group = api.group("g", customers(uuid4().hex[:6], [("gold", "EU"), ("silver", "EU")]))
    return str(api.create_campaign(group)["campaign_id"])


def test_the_session_cookie_is_httponly_strict_and_secure_off_loopback(api: Api) -> None:
    assert isinstance(api.http, TestClient)
    session = Session(api.http, api.api_key)
    attributes = session.set_cookie.lower()
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert "secure" in attributes  # the host is "testserver", not loopback
    assert "path=/console" in attributes


def test_sign_in_refuses_in_words_and_refuses_a_form_without_its_token(
    api: Api, http: TestClient
) -> None:
    wrong = sign_in(http, "no-such-key")
    assert wrong.status_code == 403
    assert "do not sign in" in wrong.text
    assert f"{SESSION_COOKIE}=" not in wrong.headers.get("set-cookie", "")
    reserved = sign_in(http, api.api_key, user_id="system")
    assert reserved.status_code == 400
    assert "reserved" in reserved.text
    forged = http.post(
        "/console/sign-in",
        data={"csrf": "guess", "api_key": api.api_key, "user_id": "x"},
        headers={"origin": ORIGIN},
    )
    assert forged.status_code == 403


def test_the_progress_bar_reads_the_current_runs_job(api: Api, reviewer: Session) -> None:
    campaign_id = ready_campaign(api)
    job = reviewer.get(f"/console/campaigns/{campaign_id}/progress.json").json()
    assert job == {"phase": "Completed", "copied": 0, "generated": 2, "archived": 0,
                   "failed": 0, "total": 2, "error": None}  # fmt: skip
    page = reviewer.get(f"/console/campaigns/{campaign_id}").text
    assert "data-progress-url" not in page  # a finished run's page does not poll


def test_every_action_needs_the_sessions_token_and_this_origin(api: Api, reviewer: Session) -> None:
    campaign_id = ready_campaign(api)
    path = f"/console/campaigns/{campaign_id}/publish"
    assert reviewer.post(path, {}).status_code == 403
    assert reviewer.post(path, {"csrf": "0" * 64}).status_code == 403
    assert (
        reviewer.post(path, {"csrf": reviewer.csrf()}, origin="https://evil.test").status_code
        == 403
    )
    # Another session's token is no good in this one.
    second = Session(reviewer.http, api.api_key, user_id="another-reviewer")
    assert reviewer.post(path, {"csrf": second.csrf()}).status_code == 403
    assert api.campaign(campaign_id)["status"] == "Ready for review"


def test_actions_are_recorded_with_who_and_a_correlation_id(
    api: Api, reviewer: Session, api_pool: Any
) -> None:
    campaign_id = ready_campaign(api)
    csrf = reviewer.csrf()
    message = api.ok("/v1/campaign/rerun/messages", {"campaign_id": campaign_id})["data"][0]
    rejected = reviewer.post(
        f"/console/campaigns/{campaign_id}/review",
        {"csrf": csrf, "decision": "reject", "message_id": message["message_id"],
         "comment": "Too plain"},
    )  # fmt: skip
    assert reviewer.notice(rejected) == "1 message rejected."
    with api_pool.connection() as conn:
        events = stream_events(conn, UUID(campaign_id))
        checked, problems = verify_stream(conn, UUID(campaign_id))
    reviewed = [e for e in events if e["type"] == "MessageReviewed"]
    assert reviewed[-1]["data"]["comment"] == "Too plain"
    assert reviewed[-1]["metadata"]["user_id"] == "reviewer"
    assert reviewed[-1]["metadata"]["account_id"] == str(api.account_id)
    assert reviewed[-1]["metadata"]["correlation_id"]
    assert checked == len(events)
    assert problems == []


def test_refusals_are_readable_notices_and_nothing_answers_500(api: Api, reviewer: Session) -> None:
    campaign_id = ready_campaign(api)
    csrf = reviewer.csrf()
    base = f"/console/campaigns/{campaign_id}"
    not_a_message = reviewer.post(f"{base}/edit", {"csrf": csrf, "message_id": "x", "content": "y"})
    assert "message_id" in reviewer.notice(not_a_message)
    missing = reviewer.post(f"{base}/regenerate", {"csrf": csrf, "message_id": str(uuid4())})
    assert reviewer.notice(missing) == "Message not found"
    not_published = reviewer.post(
        f"{base}/rerun", {"csrf": csrf, "new_customer_group_id": str(uuid4())}
    )
    assert reviewer.notice(not_published) == "Only Published campaigns can be rerun"
    created = reviewer.post(
        "/console/campaigns",
        {"csrf": csrf, "name": "", "customer_group_id": "nope", "provider": "template"},
    )
    assert reviewer.notice(created)
    too_big = reviewer.post(f"{base}/edit", {"csrf": csrf, "content": "x" * 200_000})
    assert too_big.status_code == 403
    for query in ("?page=abc&page_size=-3&status=Nope&run=zz", "?run=99", "?page=99999999999"):
        assert reviewer.get(base + query).status_code in (200, 404), query
    for path in (
        f"{base}/timeline?after=-5",
        f"{base}/rerun?group=not-a-uuid",
        "/console/campaigns/x",
    ):
        assert reviewer.get(path).status_code < 500, path


def test_another_accounts_campaign_answers_as_a_missing_one(
    new_api: Callable[..., Api], http: TestClient
) -> None:
    mine, theirs = new_api(), new_api()
    their_campaign = ready_campaign(theirs)
    session = Session(http, mine.api_key)
    for path in ("", "/rerun", "/timeline", "/export.jsonl", "/progress.json"):
        answer = session.get(f"/console/campaigns/{their_campaign}{path}")
        assert answer.status_code == 404, path
    published = session.post(
        f"/console/campaigns/{their_campaign}/publish", {"csrf": session.csrf()}
    )
    assert session.notice(published) == "Campaign not found"
    assert theirs.campaign(their_campaign)["status"] == "Ready for review"


def test_pages_carry_a_strict_policy_and_no_session_goes_to_sign_in(http: TestClient) -> None:
    page = http.get("/console/campaigns", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/console/sign-in?expired=1"
    assert page.headers["x-frame-options"] == "DENY"
    policy = http.get("/console/sign-in").headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe" not in policy
    assert http.get("/console/campaigns/x/progress.json").status_code in (400, 401)


def test_the_timeline_shows_where_a_tampered_chain_breaks(
    api: Api, reviewer: Session, api_pool: Any
) -> None:
    campaign_id = ready_campaign(api)
    timeline = f"/console/campaigns/{campaign_id}/timeline"
    assert "Hash chain intact" in reviewer.get(timeline).text
    with api_pool.connection() as conn:
        edited = conn.execute(
            "UPDATE nudgescribe_events SET state = convert_to(replace(convert_from(state,"
            " 'UTF8'), 'Hi gold', 'Hacked'), 'UTF8') WHERE originator_id = %s"
            " AND position('Hi gold' in convert_from(state, 'UTF8')) > 0"
            " RETURNING originator_version",
            (UUID(campaign_id),),
        ).fetchall()
    assert len(edited) == 1
    page = reviewer.get(timeline).text
    assert "Hash chain broken: 1 problem" in page
    assert f"version {edited[0][0]}: edited" in page
