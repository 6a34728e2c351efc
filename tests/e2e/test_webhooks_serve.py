"""A real ``nudgescribe serve``: a webhook created over HTTP is told, by the dispatcher of
the server's processor, that its campaign's run completed and that it was published."""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

from tests.api_client import Api
from tests.dbserver import throwaway_database
from tests.e2e.serving import free_port
from tests.fakes.processes import ROOT, clean_env, database_url, wait_until
from tests.fakes.webhook_receiver import webhook_receiver

pytestmark = pytest.mark.e2e


def test_serve_delivers_a_campaigns_events_to_its_webhook(pg_server_url: str) -> None:
    port, api_code, jwt_secret = free_port(), secrets.token_urlsafe(16), secrets.token_urlsafe(32)
    with (
        throwaway_database(pg_server_url, prefix="nudgescribe_hooks") as db,
        tempfile.TemporaryDirectory(prefix="nudgescribe-hooks-") as tmp,
        webhook_receiver() as receiver,
    ):
        env = clean_env(
            DATABASE_URL=database_url(db),
            NUDGESCRIBE_DATA_DIR=tmp,
            NUDGESCRIBE_API_CODE=api_code,
            NUDGESCRIBE_JWT_SECRET=jwt_secret,
            NUDGESCRIBE_WEBHOOK_ALLOW_PRIVATE="1",
        )
        log = Path(tmp) / "serve.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        try:

            def healthy() -> bool:
                try:
                    return httpx.get(url + "/health", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return process.poll() is not None

            assert wait_until(healthy, 120)
            assert process.poll() is None, log.read_text()
            created = subprocess.run(
                [sys.executable, "-m", "api.cli", "accounts", "create", "Acme", "--json"],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True,
            )  # fmt: skip
            account_id = json.loads(created.stdout)["account_id"]
            with httpx.Client(base_url=url, timeout=30) as http:
                api = Api(http, api_code, account_id, jwt_secret)
                hook = {
                    "url": receiver.route("serve"),
                    "events": ["run.completed", "campaign.published"],
                }
                webhook = api.ok("/v1/webhooks/create", hook)["data"]
                receiver.routes["serve"].secret = webhook["secret"]
                api.define_fields("plan", "region")
                campaign_id, _ = api.published_campaign("hooks")

                def told() -> set[str]:
                    return {
                        a.payload["type"]
                        for a in receiver.attempts("serve")
                        if a.status == 200 and a.payload is not None
                    }

                assert wait_until(lambda: told() == {"run.completed", "campaign.published"}, 60)
                payloads = [a.payload for a in receiver.attempts("serve") if a.status == 200]
                assert {p["data"]["campaign_id"] for p in payloads} == {campaign_id}  # type: ignore[index]
                ref = {"webhook_id": webhook["webhook_id"]}

                def recorded() -> list[int]:
                    shown = api.ok("/v1/webhooks/deliveries", ref)["data"]
                    return sorted(a["status_code"] for a in shown)

                assert wait_until(lambda: recorded() == [200, 200], 30)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
