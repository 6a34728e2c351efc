"""Helpers for the read-model tests: campaigns driven through the real commands."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from uuid import UUID

from application.campaigns import CampaignCommands
from application.metadata import CommandContext
from tests.content_fixtures import define_fields, make_group

TEMPLATE = {"provider": "template", "template": "Hi {{plan}} member in {{region}}!"}


def customers(*pairs: tuple[str, str], each: int = 1) -> list[dict[str, str]]:
    return [{"plan": plan, "region": region} for plan, region in pairs for _ in range(each)]


def create_campaign(
    commands: CampaignCommands,
    pool,  # type: ignore[no-untyped-def]
    account_id: UUID,
    members: Sequence[Mapping[str, object]],
    name: str = "Spring",
) -> UUID:
    define_fields(pool, account_id, ["plan", "region"])
    group = make_group(pool, account_id, members, name="first")
    context = CommandContext.for_request(user_id="u-1", account_id=account_id, ip="10.1.2.3")
    started = commands.create(
        context=context,
        account_id=account_id,
        name=name,
        customer_group_id=group,
        segment_variables=["plan", "region"],
        ai_config=TEMPLATE,
    )
    return started.campaign_id


def rerun(commands: CampaignCommands, pool, account_id: UUID, campaign_id: UUID, members) -> int:  # type: ignore[no-untyped-def]
    group = make_group(pool, account_id, members, name="second")
    context = CommandContext.for_request(user_id="u-2", account_id=account_id, ip="10.9.9.9")
    result = commands.initiate_rerun(
        context=context, account_id=account_id, campaign_id=campaign_id, new_customer_group_id=group
    )
    return result.position
