"""The review console in a real browser (Debian's Chromium, driven by Playwright) against
a real ``nudgescribe serve``: a reviewer's whole day, an auditor's timeline, and a
second account that is never seen."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.tokens import issue_token
from tests.api_client import customers
from tests.dbserver import throwaway_database
from tests.e2e.console_support import (
    CHROMIUM,
    ConsoleServer,
    axe_script,
    console_server,
    serious_violations,
)
from tests.fakes.chat_server import chat_server
from tests.fakes.processes import ROOT

pytestmark = pytest.mark.e2e

sync_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():
    # Skipped on a machine without a browser (the README's pytest on a laptop); never in
    # CI, which installs it (.ci/run): there a missing browser is a failure.
    if os.environ.get("CI"):
        raise RuntimeError(f"CI is set and there is no Chromium at {CHROMIUM}")
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

TEMPLATE = "Hi {{plan}} member in {{region}}!"
# Where the README's screenshots are written, when asked for.
SCREENSHOTS = os.environ.get("NUDGESCRIBE_SCREENSHOTS")


@pytest.fixture(scope="module")
def server(pg_server_url: str) -> Iterator[ConsoleServer]:
    # A slow provider: a campaign it writes is generated while the page is watched.
    with (
        chat_server(latency=0.5) as chat,
        throwaway_database(pg_server_url, "nudgescribe_console") as db,
        console_server(db, chat.url) as s,
    ):
        yield s


@pytest.fixture(scope="module")
def accounts(server: ConsoleServer) -> Iterator[dict[str, Any]]:
    """Account A (customers and two groups, set up through the API) and account B, which
    has a campaign of its own that A must never see."""
    a, api_a, http_a = server.account("Acme", "setup")
    b, api_b, http_b = server.account("Other", "setup")
    try:
        api_a.define_fields("plan", "region")
        first = api_a.group("spring-1", customers("a1", [("gold", "EU"), ("silver", "EU")]))
        second = api_a.group("spring-2", customers("a2", [("gold", "EU"), ("bronze", "US")]))
        slow = api_a.group(
            "slow", customers("a3", [(p, r) for p in ("gold", "silver") for r in "ABCD"], each=1)
        )
        api_b.define_fields("plan", "region")
        b_group = api_b.group("b-1", customers("b1", [("gold", "EU")]))
        b_campaign = api_b.create_campaign(b_group, name="Secret of B")["campaign_id"]
        yield {"a": a, "first": first, "second": second, "slow": slow, "b": b,
               "b_campaign": str(b_campaign)}  # fmt: skip
    finally:
        http_a.close()
        http_b.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def axe() -> str:
    return axe_script()


def accessible(page: Any, axe: str) -> None:
    assert serious_violations(page, axe) == [], page.url


def sign_in(page: Any, server: ConsoleServer, api_key: str, user_id: str) -> None:
    page.goto(server.url + "/console")
    page.get_by_label("Account API key").fill(api_key)
    page.get_by_label("Your user id").fill(user_id)
    page.get_by_role("button", name="Sign in").click()


def wait_for_status(page: Any, status: str) -> None:
    """The page reloads itself once its run finishes (its progress bar polls)."""
    sync_api.expect(page.locator("#campaign-status")).to_have_text(status, timeout=60_000)


def test_a_reviewers_day_from_sign_in_to_a_reviewed_rerun(
    server: ConsoleServer, accounts: dict[str, Any], browser: Any, axe: str
) -> None:
    expect = sync_api.expect
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()

    # Sign in: a wrong key is refused in words, the right one signs in.
    page.goto(server.url + "/console")
    assert page.url.endswith("/console/sign-in")
    accessible(page, axe)
    # Without a mouse: the first Tab reaches the skip link, which leads to the form's fields.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Account API key")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Your user id")).to_be_focused()
    sign_in(page, server, "not-a-key", "alice")
    expect(page.locator("#sign-in-error")).to_contain_text("do not sign in")
    sign_in(page, server, accounts["a"]["api_key"], "alice")
    expect(page.get_by_role("heading", name="Campaigns", exact=True)).to_be_visible()
    accessible(page, axe)
    cookie = next(c for c in context.cookies() if c["name"] == "nudgescribe_console")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    assert "Secret of B" not in page.content()

    # Create a campaign and watch run 1 finish.
    page.get_by_label("Name", exact=True).fill("Spring")
    page.get_by_label("Customer group").select_option(accounts["first"])
    page.get_by_label("plan", exact=True).check()
    page.get_by_label("region", exact=True).check()
    page.get_by_label("Template (for Template").fill(TEMPLATE)
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("heading", name="Spring")).to_be_visible()
    campaign_url = page.url
    wait_for_status(page, "Ready for review")
    expect(page.locator("#messages tbody tr")).to_have_count(2)
    expect(page.locator("#messages")).to_contain_text("Hi gold member in EU!")
    accessible(page, axe)

    # Approve all visible, publish.
    page.locator("#approve-visible").click()
    expect(page.get_by_role("status")).to_have_text("2 messages approved.")
    page.locator("#publish").click()
    expect(page.get_by_role("status")).to_have_text("2 messages published.")
    expect(page.locator("#campaign-status")).to_have_text("Published")

    # Rerun: preview the comparison, then start it.
    page.get_by_role("link", name="Rerun…").click()
    page.get_by_label("New customer group", exact=True).select_option(accounts["second"])
    page.locator("#preview").click()
    comparison = page.locator("#comparison")
    expect(comparison).to_contain_text("Matched (approved text copied): 1")
    expect(comparison).to_contain_text("New (generated, to review): 1")
    expect(comparison).to_contain_text("Orphaned (archived): 1")
    accessible(page, axe)
    page.locator("#initiate").click()
    wait_for_status(page, "Ready for review")
    assert page.url == campaign_url

    # Review the new message: reject with a comment, edit it, approve it.
    page.get_by_label("Status", exact=True).select_option("Ready for review")
    page.get_by_role("button", name="Show").click()
    rows = page.locator("#messages tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Hi bronze member in US!")
    rows.first.get_by_text("Reject…").click()
    rows.first.get_by_label("Comment").fill("Too plain")
    rows.first.get_by_role("button", name="Reject", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("1 message rejected.")
    expect(page.locator("#messages tbody tr")).to_contain_text("No message with status")
    page.get_by_label("Status", exact=True).select_option("Rejected")
    page.get_by_role("button", name="Show").click()
    row = page.locator("#messages tbody tr").first
    row.get_by_text("Edit…").click()
    row.get_by_label("Message text").fill("Hello bronze friends in the US!")
    row.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Message edited")
    page.get_by_label("Status", exact=True).select_option("")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#messages")).to_contain_text("Hello bronze friends in the US!")
    # Regenerate it after all: the provider writes it again (the page follows the run).
    bronze = page.locator("#messages tbody tr", has_text="Hello bronze friends")
    bronze.get_by_role("button", name="Regenerate").click()
    expect(page.get_by_role("status")).to_have_text("Regeneration queued.")
    page.get_by_role("link", name="Current messages").click()
    wait_for_status(page, "Ready for review")
    expect(page.locator("#messages")).to_contain_text("Hi bronze member in US!")
    row = page.locator("#messages tbody tr", has_text="Hi bronze member in US!")
    row.get_by_text("Edit…").click()
    row.get_by_label("Message text").fill("Hello bronze friends in the US!")
    row.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Message edited")
    page.locator("#approve-visible").click()
    expect(page.get_by_role("status")).to_have_text("1 message approved.")
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "console-campaign.png"), full_page=True)

    # History: two runs, run 2 by alice from loopback; run 1's archived messages a click away.
    history = page.locator("#history tbody tr")
    expect(history).to_have_count(2)
    expect(history.first).to_contain_text("alice")
    expect(history.first).to_contain_text("127.0.0.1")
    page.get_by_role("link", name="Archived messages of run 1").click()
    expect(page.locator("#messages")).to_contain_text("orphaned")
    expect(page.locator("#messages")).to_contain_text("superseded")
    accessible(page, axe)

    # The audit timeline: who, where, which request; the chain intact; the export.
    page.get_by_role("link", name="Audit timeline").click()
    expect(page.locator("#chain")).to_contain_text("Hash chain intact")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("CampaignCreated")
    expect(timeline).to_contain_text("MessageReviewed")
    expect(timeline).to_contain_text("segment plan=bronze region=US: rejected — Too plain")
    reviewed = timeline.locator("tr", has_text="Too plain")
    expect(reviewed).to_contain_text("alice")
    expect(reviewed).to_contain_text("127.0.0.1")
    assert re.search(r"[0-9a-f-]{36}", reviewed.inner_text())  # the correlation id
    accessible(page, axe)
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "console-timeline.png"), full_page=True)
    with page.expect_download() as download:
        page.locator("#export").click()
    exported = Path(download.value.path()).read_bytes()
    campaign_id = campaign_url.rsplit("/", 1)[-1]
    cli = subprocess.run(
        [sys.executable, "-m", "api.cli", "events", "export", "--campaign-id", campaign_id],
        cwd=ROOT, env=server.env, capture_output=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    assert exported == cli
    assert exported.count(b"\n") > 5

    # Sign out: back to sign-in, and the campaign page is no longer shown.
    page.goto(campaign_url)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(campaign_url)
    assert page.url.startswith(server.url + "/console/sign-in")
    assert "Spring" not in page.content()
    context.close()


def test_the_progress_bar_follows_a_running_job_and_the_page_reloads_when_it_ends(
    server: ConsoleServer, accounts: dict[str, Any], browser: Any, axe: str
) -> None:
    expect = sync_api.expect
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, server, accounts["a"]["api_key"], "bob")
    page.get_by_label("Name", exact=True).fill("Slow")
    page.get_by_label("Customer group").select_option(accounts["slow"])
    page.get_by_label("plan", exact=True).check()
    page.get_by_label("region", exact=True).check()
    page.get_by_label("OpenAI-compatible model").check()
    page.get_by_label("Prompt (for OpenAI-compatible)").fill("Write to {{plan}} in {{region}}")
    page.get_by_role("button", name="Create campaign").click()
    # 8 segments, one call at a time, 0.5 s each: the page shows the run in progress.
    expect(page.locator("#job-progress")).to_be_visible()
    expect(page.locator("#campaign-status")).to_have_text("Processing")
    accessible(page, axe)
    # The script updates the bar as segments are generated ...
    expect(page.locator("#job-phase")).to_contain_text(re.compile(r"Generating: [1-7] of 8"))
    # ... and reloads the page once the run has finished: nobody reloads it here.
    wait_for_status(page, "Ready for review")
    expect(page.locator("#job-progress")).to_have_count(0)
    expect(page.locator("#messages tbody tr")).to_have_count(8)
    context.close()


def test_another_accounts_campaign_is_never_visible_nor_reachable(
    server: ConsoleServer, accounts: dict[str, Any], browser: Any
) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, server, accounts["a"]["api_key"], "alice")
    sync_api.expect(page.get_by_role("heading", name="Campaigns", exact=True)).to_be_visible()
    assert "Secret of B" not in page.content()
    other = accounts["b_campaign"]
    for path in ("", "/rerun", "/timeline", "/export.jsonl", "/progress.json"):
        response = page.request.get(f"{server.url}/console/campaigns/{other}{path}")
        assert response.status == 404, path
        assert "Secret of B" not in response.text()
    # An action on it, with this session's own CSRF token, is refused as a missing one.
    page.goto(server.url + "/console/campaigns")
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    answer = page.request.post(
        f"{server.url}/console/campaigns/{other}/publish",
        form={"csrf": csrf},
        headers={"origin": server.url},
    )
    assert "Campaign not found" in answer.text()
    context.close()


def test_headers_csrf_and_an_expired_session(
    server: ConsoleServer, accounts: dict[str, Any], browser: Any
) -> None:
    page_answer = httpx.get(server.url + "/console/sign-in")
    headers = page_answer.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "'unsafe-inline'" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"

    context = browser.new_context()
    page = context.new_page()
    sign_in(page, server, accounts["a"]["api_key"], "alice")
    sync_api.expect(page.get_by_role("heading", name="Campaigns", exact=True)).to_be_visible()
    # A form without the session's CSRF token changes nothing.
    refused = page.request.post(
        server.url + "/console/campaigns", form={"name": "Forged"}, headers={"origin": server.url}
    )
    assert refused.status == 403
    # A session whose token has expired goes back to sign-in, forgetting the cookie.
    secret = (server.data_dir / "jwt_secret").read_text().strip()
    expired = issue_token(
        secret, account_id=accounts["a"]["account_id"], user_id="alice", ttl_seconds=-10
    )
    context.add_cookies(
        [{"name": "nudgescribe_console", "value": expired, "url": server.url + "/console"}]
    )
    page.goto(server.url + "/console/campaigns")
    assert page.url.startswith(server.url + "/console/sign-in")
    sync_api.expect(page.get_by_role("alert")).to_contain_text("session has ended")
    context.close()
