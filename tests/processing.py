"""Helpers for processor tests: campaigns of many segments, processors, raw event reads."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from application.campaigns import CampaignCommands
from application.database import ConnectionInfo
from application.generators import Generator, OpenAIChatGenerator, TemplateGenerator
from application.metadata import CommandContext
from application.processor import GenerationOptions, Processor
from application.settings import Settings
from application.store import CampaignStore
from tests.content_fixtures import define_fields, make_group
from tests.fakes.chat_server import API_KEY

TEMPLATE = {"provider": "template", "template": "Hi {{plan}} member in {{region}}!"}
OPENAI = {
    "provider": "openai",
    "model": "test-model",
    "system_prompt": "Write one short message.",
    "prompt": "Offer for plan {{plan}} in {{region}}",
    "temperature": 0.3,
}


def customers(plans: range | list[str], region: str = "EU") -> list[dict[str, object]]:
    return [{"plan": f"p{p}" if isinstance(p, int) else p, "region": region} for p in plans]


def create_campaign(
    commands: CampaignCommands,
    pool: ConnectionPool,
    account_id: UUID,
    members: list[dict[str, object]],
    ai_config: dict[str, Any] = TEMPLATE,
    campaign_id: UUID | None = None,
) -> UUID:
    define_fields(pool, account_id, ["plan", "region"])
    group = make_group(pool, account_id, members, name="first")
    return commands.create(
        context=CommandContext.for_request(user_id="u", account_id=account_id, ip="1.2.3.4"),
        account_id=account_id,
        name="Campaign",
        customer_group_id=group,
        segment_variables=["plan", "region"],
        ai_config=ai_config,
        campaign_id=campaign_id,
    ).campaign_id


def rerun(
    commands: CampaignCommands,
    pool: ConnectionPool,
    account_id: UUID,
    campaign_id: UUID,
    members: list[dict[str, object]],
) -> int:
    group = make_group(pool, account_id, members, name="next")
    return commands.initiate_rerun(
        context=CommandContext.for_request(user_id="u", account_id=account_id, ip="1.2.3.4"),
        account_id=account_id,
        campaign_id=campaign_id,
        new_customer_group_id=group,
    ).run_number


def generators(
    server_url: str | None = None, max_attempts: int = 4, outage_seconds: float = 1.0
) -> dict[str, Generator]:
    found: dict[str, Generator] = {"template": TemplateGenerator()}
    if server_url:
        found["openai"] = OpenAIChatGenerator(
            server_url,
            API_KEY,
            concurrency=8,
            timeout=5.0,
            max_attempts=max_attempts,
            outage_seconds=outage_seconds,
            initial_backoff=0.01,
            max_backoff=0.05,
        )
    return found


def make_processor(
    store: CampaignStore,
    pool: ConnectionPool,
    db: ConnectionInfo,
    found: dict[str, Generator],
    lease_seconds: float = 30.0,
) -> Processor:
    return Processor(
        store,
        pool,
        db,
        found,
        Settings().model_copy(update={"processor_lease_seconds": lease_seconds}),
        poll_interval=0.2,
        generation=GenerationOptions(concurrency=8, batch_size=50, flush_seconds=0.2),
    )


def stored_events(pool: ConnectionPool, campaign_id: UUID) -> list[tuple[int, str, dict[str, Any]]]:
    """(position, event name, JSON state incl. _meta) of a campaign, in log order."""
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT notification_id, topic, state FROM nudgescribe_events "
            "WHERE originator_id = %s ORDER BY notification_id",
            (campaign_id,),
        ).fetchall()
    return [(pos, topic.rsplit(".", 1)[-1], json.loads(bytes(state))) for pos, topic, state in rows]


def per_segment(events: list[tuple[int, str, dict[str, Any]]], name: str, run: int) -> Counter[str]:
    return Counter(e["segment_key"] for _, n, e in events if n == name and e["run_number"] == run)
