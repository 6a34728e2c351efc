"""First render of the review console's campaign page for a campaign of many messages.

A campaign of ``--segments`` segments (10,000 by default) is generated and left Ready for
review by a real ``nudgescribe serve``. Signed in to the console as a browser would be
(its form, its cookie), the campaign page (history, counts, the first page of 50
messages with their review forms) is fetched ``--runs`` times, interleaved with the
baseline measured in the same run: the JSON API's page of the same 50 run messages
(``POST /v1/campaign/rerun/messages``). When Debian's Chromium is installed (and
Playwright), the time until a browser tab has loaded the page is measured too, against
the console's smallest page (sign-in) loaded in the same tab in turn.
Target: the page under 300 ms.

    python -m bench console [-- --segments 10000 --runs 20]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import httpx

from api.tokens import issue_token
from application.content.accounts import Accounts
from bench.common import bench_database, median, ok, ratio_line, serve, wait_job, where

CHROMIUM = Path("/usr/bin/chromium")
PAGE_SIZE = 50
# The navigation's timings (ms from its start): the response in, the page loaded.
NAVIGATION = (
    "(() => { const n = performance.getEntriesByType('navigation')[0];"
    " return [n.responseEnd, n.loadEventEnd]; })()"
)


def build_campaign(client: httpx.Client, headers: dict[str, str], segments: int) -> str:
    for name in ("plan", "region"):
        ok(client, "/v1/customer-fields/create", {"name": name, "type": "string"}, headers)
    rows = [
        {"external_id": f"c{i}", "fields": {"plan": f"p{i % 40}", "region": f"r{i // 40}"}}
        for i in range(segments)
    ]
    ok(client, "/v1/customers/upload", {"customers": rows}, headers)
    group = ok(
        client,
        "/v1/customer-groups/create",
        {"name": "all", "external_ids": [r["external_id"] for r in rows]},
        headers,
    )["data"]
    created = ok(
        client,
        "/v1/campaign/create",
        {
            "name": "Console bench",
            "customer_group_id": group["customer_group_id"],
            "segment_variables": ["plan", "region"],
            "ai_config": {"provider": "template", "template": "Hi {{plan}} in {{region}}!"},
        },
        headers,
    )["data"]
    wait_job(client, headers, str(created["job_uid"]))
    return str(created["campaign_id"])


def sign_in(client: httpx.Client, api_key: str) -> None:
    form = client.get("/console/sign-in").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    answer = client.post(
        "/console/sign-in", data={"csrf": csrf.group(1), "api_key": api_key, "user_id": "bench"}
    )
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in refused: {answer.status_code} {answer.text[:300]}")


def browser_times(
    url: str, baseline_url: str, cookies: httpx.Cookies, runs: int
) -> tuple[list[float], list[float]] | None:
    """Medians, in one Chromium tab, of the times from navigation to the response's end
    and to the load event: of ``url``, and of ``baseline_url`` navigated to in turn
    (None: no browser here)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not CHROMIUM.exists():
        return None
    ours, baseline = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        context = browser.new_context()
        context.add_cookies(
            [{"name": c.name, "value": c.value or "", "url": url} for c in cookies.jar]
        )
        page = context.new_page()
        for _ in range(runs):
            for target, times in ((url, ours), (baseline_url, baseline)):
                page.goto(target, wait_until="load")
                times.append(page.evaluate(NAVIGATION))
        browser.close()
    return [median([t[i] for t in ours]) for i in range(2)], [
        median([t[i] for t in baseline]) for i in range(2)
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench console")
    parser.add_argument("--segments", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)

    with bench_database() as (db, pool), serve(db) as served:
        account = Accounts(pool).create("Bench")
        headers = {
            "authorization": "Bearer "
            + issue_token(served.jwt_secret, account_id=account.account_id, user_id="bench"),
            "x-auth-context": f'{{"api_access": true, "api_code": "{served.api_code}"}}',
            "x-ip": "127.0.0.1",
        }
        with httpx.Client(base_url=served.url, timeout=600) as api:
            campaign_id = build_campaign(api, headers, args.segments)
        page_url = f"/console/campaigns/{campaign_id}"
        body = {"campaign_id": campaign_id, "page": 1, "page_size": PAGE_SIZE}
        page_times, api_times = [], []
        with httpx.Client(base_url=served.url, timeout=60) as browser_like:
            sign_in(browser_like, account.api_key)
            first = browser_like.get(page_url)
            assert first.status_code == 200, first.text[:300]
            assert f"{args.segments:,}" in first.text or str(args.segments) in first.text
            for _ in range(args.runs):
                began = time.perf_counter()
                answer = browser_like.get(page_url)
                page_times.append((time.perf_counter() - began) * 1000)
                assert answer.status_code == 200
                began = time.perf_counter()
                ok(browser_like, "/v1/campaign/rerun/messages", body, headers)
                api_times.append((time.perf_counter() - began) * 1000)
            timeline_times = []
            for _ in range(max(3, args.runs // 4)):
                began = time.perf_counter()
                answer = browser_like.get(page_url + "/timeline")
                timeline_times.append((time.perf_counter() - began) * 1000)
                assert answer.status_code == 200
            cookies = browser_like.cookies
            loaded = browser_times(
                served.url + page_url, served.url + "/console/sign-in", cookies, args.runs
            )

    ours, baseline = median(page_times), median(api_times)
    print(f"console campaign page, {args.segments:,} messages ({where()}), {args.runs} runs:")
    print(
        ratio_line(
            "campaign page (HTML, 50 rows)", ours, baseline, "ms", "baseline: JSON messages page"
        )
    )
    verdict = "meets" if ours < 300 else "MISSES"
    print(f"campaign page median {ours:.1f} ms: {verdict} the 300 ms target")
    print(
        f"audit timeline (first 100 events, the whole stream's hash chain checked):"
        f" median {median(timeline_times):.1f} ms"
    )
    if loaded is not None:
        (response, load), (base_response, base_load) = loaded
        print(
            f"in Chromium (one tab), from navigation: response {response:.1f} ms, loaded"
            f" {load:.1f} ms; the sign-in page: response {base_response:.1f} ms, loaded"
            f" {base_load:.1f} ms -> ratio {load / base_load:.2f} (medians)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
