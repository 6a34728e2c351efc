"""Bodies of the campaign, message and rerun endpoints."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from api.models.common import (
    Identifier,
    Name,
    PageSize,
    Paging,
    RequestBody,
    RunNumber,
    Text,
)
from application.json_numbers import wide_integer_at


def within_64_bits(value: dict[str, Any]) -> dict[str, Any]:
    path = wide_integer_at(value)
    if path is not None:
        where = ".".join(str(part) for part in path)
        raise PydanticCustomError(
            "int_beyond_64_bits", "{where} is an integer beyond 64 bits", {"where": where}
        )
    return value


class CampaignCreate(RequestBody):
    name: Name
    customer_group_id: UUID
    segment_variables: list[Identifier] = Field(max_length=20)
    ai_config: Annotated[dict[str, Any], AfterValidator(within_64_bits)]


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
    run_number: RunNumber | None = None
    include_archived: bool = False


class Initiate(RequestBody):
    campaign_id: UUID
    new_customer_group_id: UUID


class JobRef(RequestBody):
    job_uid: UUID
