"""A segment the provider refuses, over HTTP: the run completes around it, the message
shows why, publish waits until a reviewer regenerates or edits it.

The app here has an OpenAI-compatible provider (a loopback chat server), so it runs on
a database of its own: the package's app has none and would fail these campaigns' jobs.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from application.content.accounts import Accounts
from application.database import open_pool
from application.migrate import migrate
from application.settings import Settings
from projections.schema import READ_MODEL_DDL
from tests.api_client import Api, customers, wait_until
from tests.dbserver import throwaway_database
from tests.fakes.chat_server import API_KEY, ChatServer, chat_server
from tests.fakes.processes import database_url

pytestmark = pytest.mark.integration

OPENAI = {"provider": "openai", "model": "m", "prompt": "Offer for plan {{plan}} in {{region}}"}
REFUSAL = "openai generator: HTTP 400: Your request was rejected as a result of our safety system."
PUBLISH_REFUSED = {
    "message": "Messages whose generation failed must be regenerated or edited before publishing",
    "code": "generation_failed_messages_exist",
}


@pytest.fixture(scope="module")
def provider() -> Iterator[ChatServer]:
    with chat_server(failure="policy") as server:
        yield server


@pytest.fixture(scope="module")
def api(pg_server_url: str, provider: ChatServer) -> Iterator[Api]:
    api_code, jwt_secret = secrets.token_urlsafe(16), secrets.token_urlsafe(32)
    with (
        throwaway_database(pg_server_url, prefix="nudgescribe_genfail") as db,
        tempfile.TemporaryDirectory(prefix="nudgescribe-genfail-") as data_dir,
    ):
        pool = open_pool(db, max_size=2, name="nudgescribe-genfail-tests")
        try:
            migrate(db, pool, extra_ddl=READ_MODEL_DDL)
            account_id = Accounts(pool).create("Acme").account_id
            settings = Settings(
                DATABASE_URL=database_url(db),
                NUDGESCRIBE_DATA_DIR=Path(data_dir),
                NUDGESCRIBE_API_CODE=api_code,
                NUDGESCRIBE_JWT_SECRET=jwt_secret,
                NUDGESCRIBE_GENERATOR_BASE_URL=provider.url,
                NUDGESCRIBE_GENERATOR_API_KEY=API_KEY,
            )  # type: ignore[call-arg]
            with TestClient(create_app(settings, processor=True)) as http:
                yield Api(http, api_code, account_id, jwt_secret)
        finally:
            pool.close()


def create(api: Api, group_id: str) -> tuple[str, str]:
    created = api.ok(
        "/v1/campaign/create",
        {"name": "Spring", "customer_group_id": group_id, "segment_variables": ["plan", "region"],
         "ai_config": OPENAI},
    )["data"]  # fmt: skip
    return str(created["campaign_id"]), str(created["job_uid"])


def messages(api: Api, campaign_id: str) -> dict[str, dict[str, Any]]:
    """The current run's messages by plan."""
    found = api.ok("/v1/campaign/rerun/messages", {"campaign_id": campaign_id})["data"]
    return {m["segment"]["plan"]: m for m in found}


def publish(api: Api, campaign_id: str) -> Any:
    return api.post("/v1/campaign/messages/publish", {"campaign_id": campaign_id})


def test_refused_segment_completes_the_run_and_holds_publish_until_regenerated_or_edited(
    api: Api, provider: ChatServer
) -> None:
    api.define_fields("plan", "region")
    provider.config.fail_marker = "plan bronze "
    spring = customers("s", [("gold", "EU"), ("silver", "EU"), ("bronze", "EU")])
    campaign_id, job_uid = create(api, api.group("spring", spring))

    # The run completes around the refused segment, which the job counts.
    job = api.wait_for_job(job_uid)
    assert (job["phase"], job["progress"]) == (
        "Completed",
        {"copied": 0, "generated": 2, "archived": 0, "failed": 1, "total": 3},
    )
    campaign = api.campaign(campaign_id)
    assert campaign["status"] == "Ready for review"
    assert campaign["message_counts"]["Generation failed"] == 1
    shown = messages(api, campaign_id)
    assert (shown["bronze"]["status"], shown["bronze"]["error"]) == ("Generation failed", REFUSAL)
    assert shown["bronze"]["content"] == ""
    assert {shown[p]["status"] for p in ("gold", "silver")} == {"Ready for review"}
    assert {shown[p]["error"] for p in ("gold", "silver")} == {None}

    # Approving everything leaves it; approving it by id is refused; so is publishing.
    reviewed = api.ok(
        "/v1/campaign/messages/review",
        {"campaign_id": campaign_id, "all": True, "decision": "approve"},
    )["data"]
    assert reviewed == {"reviewed": 2, "campaign_status": "Ready for review"}
    refused_review = api.post(
        "/v1/campaign/messages/review",
        {"campaign_id": campaign_id, "message_ids": [shown["bronze"]["message_id"]],
         "decision": "approve"},
    )  # fmt: skip
    assert refused_review.status_code == 400
    assert refused_review.json() == {
        "message": "Generation failed for this message; regenerate or edit it",
        "code": "invalid_message_transition",
    }
    refused = publish(api, campaign_id)
    assert (refused.status_code, refused.json()) == (400, PUBLISH_REFUSED)
    published = api.ok("/v1/campaign/messages/published", {"campaign_id": campaign_id})
    assert published["pagination"]["total"] == 0, "a refused publish publishes nothing"

    # The provider is willing now: regenerating gives the message content to review.
    provider.config.fail_marker = None
    api.ok(
        "/v1/campaign/messages/regenerate",
        {"campaign_id": campaign_id, "message_id": shown["bronze"]["message_id"]},
    )
    regenerated = wait_until(
        lambda: messages(api, campaign_id)["bronze"],
        lambda m: m["status"] != "Generation failed",
        30.0,
    )
    assert regenerated["status"] == "Ready for review"
    assert regenerated["error"] is None
    assert "Offer for plan bronze in EU" in regenerated["content"]
    api.approve_and_publish(campaign_id)

    # A rerun whose new segment is refused; an edit fixes it this time.
    provider.config.fail_marker = "plan copper "
    summer = api.group("summer", customers("u", [("gold", "EU"), ("copper", "EU")]))
    rerun = api.ok(
        "/v1/campaign/rerun/initiate", {"campaign_id": campaign_id, "new_customer_group_id": summer}
    )["data"]
    job = api.wait_for_job(str(rerun["job_uid"]))
    assert (job["phase"], job["progress"]) == (
        "Completed",
        {"copied": 1, "generated": 0, "archived": 2, "failed": 1, "total": 4},
    )
    history = api.ok("/v1/campaign/rerun/history", {"campaign_id": campaign_id})["data"]
    assert [h["comparison_summary"] for h in history] == [
        {"matched": 1, "new": 1, "orphaned": 2},
        {"matched": 0, "new": 3, "orphaned": 0},
    ]
    copper = messages(api, campaign_id)["copper"]
    assert (copper["status"], copper["error"]) == ("Generation failed", REFUSAL)
    assert (publish(api, campaign_id).status_code, publish(api, campaign_id).json()) == (
        400,
        PUBLISH_REFUSED,
    )
    edited = api.ok(
        "/v1/campaign/messages/edit",
        {"campaign_id": campaign_id, "message_id": copper["message_id"],
         "content": "Copper members: 10% off in EU."},
    )["data"]  # fmt: skip
    assert edited["status"] == "Ready for review"
    copper = messages(api, campaign_id)["copper"]
    assert (copper["status"], copper["error"]) == ("Ready for review", None)
    api.approve_and_publish(campaign_id)
    assert api.campaign(campaign_id)["message_counts"] == {
        "Ready for review": 0, "Approved": 0, "Rejected": 0, "Published": 2,
        "Generation failed": 0,
    }  # fmt: skip
