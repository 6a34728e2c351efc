"""Bodies of the campaign, message and rerun endpoints."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from api.models.common import MAX_INT4, Identifier, Name, PageSize, Paging, RequestBody, Text


class CampaignCreate(RequestBody):
    name: Name
    customer_group_id: UUID
    segment_variables: list[Identifier] = Field(max_length=20)
    ai_config: dict[str, Any]


class CampaignRef(RequestBody):
    campaign_id: UUID


class CampaignList(Paging):
    status: Identifier | None = None


class Review(RequestBody):
    campaign_id: UUID
    decision: Literal["approve", "reject"]
    message_ids: list[UUID] | None = None
    all: bool = False
    comment: Text | None = None


class Edit(RequestBody):
    campaign_id: UUID
    message_id: UUID
    content: Text


class MessageRef(RequestBody):
    campaign_id: UUID
    message_id: UUID


class MessagePages(PageSize):
    campaign_id: UUID


class PublishedMessages(Paging):
    campaign_id: UUID


class RunMessages(Paging):
    campaign_id: UUID
    run_number: int | None = Field(default=None, ge=1, le=MAX_INT4)
    include_archived: bool = False


class Initiate(RequestBody):
    campaign_id: UUID
    new_customer_group_id: UUID


class JobRef(RequestBody):
    job_uid: UUID
