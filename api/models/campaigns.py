"""Bodies of the campaign, message and rerun endpoints."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from api.models.ai_config import AiConfig
from api.models.common import (
    CAMPAIGN_ID,
    GROUP_ID,
    Identifier,
    Name,
    PageSize,
    Paging,
    RequestBody,
    RunNumber,
    Text,
    example,
)


class CampaignCreate(RequestBody):
    model_config = example(
        name="Spring upsell",
        customer_group_id=GROUP_ID,
        segment_variables=["plan", "region"],
        ai_config={"provider": "template", "template": "Hi {{plan}} member in {{region}}!"},
    )

    name: Name
    customer_group_id: UUID
    segment_variables: list[Identifier] = Field(max_length=20)
    ai_config: AiConfig


class CampaignRef(RequestBody):
    model_config = example(campaign_id=CAMPAIGN_ID)

    campaign_id: UUID


class CampaignList(Paging):
    model_config = example(status="Ready for review", page=1, page_size=100)

    status: Identifier | None = None


class Review(RequestBody):
    model_config = example(
        campaign_id=CAMPAIGN_ID, decision="approve", all=True, comment="Reviewed"
    )

    campaign_id: UUID
    decision: Literal["approve", "reject"]
    message_ids: list[UUID] | None = None
    all: bool = False
    comment: Text | None = None


class Edit(RequestBody):
    model_config = example(
        campaign_id=CAMPAIGN_ID,
        message_id="c1a5e0d2-7b94-4f6e-8a3c-5d2e1f0b9a87",
        content="Hi gold member in EU: your spring offer is here!",
    )

    campaign_id: UUID
    message_id: UUID
    content: Text


class MessageRef(RequestBody):
    model_config = example(
        campaign_id=CAMPAIGN_ID, message_id="c1a5e0d2-7b94-4f6e-8a3c-5d2e1f0b9a87"
    )

    campaign_id: UUID
    message_id: UUID


class MessagePages(PageSize):
    model_config = example(campaign_id=CAMPAIGN_ID, page_size=100)

    campaign_id: UUID


class PublishedMessages(Paging):
    model_config = example(campaign_id=CAMPAIGN_ID, page=1, page_size=100)

    campaign_id: UUID


class RunMessages(Paging):
    model_config = example(
        campaign_id=CAMPAIGN_ID, run_number=2, include_archived=False, page=1, page_size=100
    )

    campaign_id: UUID
    run_number: RunNumber | None = None
    include_archived: bool = False


class Initiate(RequestBody):
    model_config = example(
        campaign_id=CAMPAIGN_ID, new_customer_group_id="5e8b1c3a-2d4f-4a6b-9c7e-1f0a2b3c4d5e"
    )

    campaign_id: UUID
    new_customer_group_id: UUID


class JobRef(RequestBody):
    model_config = example(job_uid="7d4e2a1b-6c3f-4e5d-8a9b-0c1d2e3f4a5b")

    job_uid: UUID
