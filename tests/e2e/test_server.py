"""A real ``nudgescribe serve`` process on the embedded database of a fresh data dir."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api_client import Api, auth_context, customers
from tests.e2e.serving import Server, serve

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    # Not pytest's tmp_path: the embedded server may run as another user (under root it
    # runs as "pgserver"), which cannot enter pytest's private base directory.
    with tempfile.TemporaryDirectory(prefix="nudgescribe-serve-") as tmp:
        yield from serve(Path(tmp) / "data")


def test_first_start_generates_secrets_and_prints_how_to_call(server: Server) -> None:
    api_code = (server.data_dir / "api_code").read_text().strip()
    assert (server.data_dir / "jwt_secret").exists()
    printed = server.log.read_text()
    assert api_code in printed
    assert "accounts create" in printed


def test_cli_account_token_and_a_campaign_through_a_rerun(server: Server) -> None:
    api_code = (server.data_dir / "api_code").read_text().strip()
    account = json.loads(server.cli("accounts", "create", "Acme", "--json"))
    token = server.cli("token", "--account-id", account["account_id"], "--user-id", "cli").strip()

    with httpx.Client(base_url=server.url, timeout=30) as http:
        headers = {"x-auth-context": auth_context(api_code), "x-ip": "127.0.0.1"}
        issued = http.post(
            "/v1/auth/authenticate",
            json={"api_key": account["api_key"], "user_id": "alice"},
            headers=headers,
        ).json()["data"]
        reauth = http.get(
            "/v1/auth/reauthenticate", headers={**headers, "authorization": f"Bearer {token}"}
        )
        assert reauth.status_code == 200
        assert issued["account_id"] == account["account_id"]

        jwt_secret = (server.data_dir / "jwt_secret").read_text().strip()
        api = Api(http, api_code, account["account_id"], jwt_secret, user_id="alice")  # type: ignore[arg-type]
        api.define_fields("plan", "region")
        campaign_id, _ = api.published_campaign("srv")
        second = api.group("second", customers("srv2", [("gold", "EU"), ("bronze", "US")]))
        started = api.ok(
            "/v1/campaign/rerun/initiate",
            {"campaign_id": campaign_id, "new_customer_group_id": second},
        )["data"]
        history = api.ok("/v1/campaign/rerun/history", {"campaign_id": campaign_id})["data"]
        assert history[0]["run_number"] == 2
        # The serving process's processor may already have finished this small run.
        assert history[0]["status"] in ("Processing", "Ready for review")
        assert api.wait_for_job(str(started["job_uid"]))["phase"] == "Completed"
        assert api.campaign(campaign_id)["status"] == "Ready for review"


def test_processes_share_the_embedded_server(server: Server) -> None:
    assert server.cli("migrate") is not None
    assert httpx.get(server.url + "/ready").status_code == 200
