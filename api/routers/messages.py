"""Campaign messages: review, edit, regenerate, publish, pages, published."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.container import Container
from api.deps import ContainerDep, GateDep, PrincipalDep, body, campaign_command
from api.errors import missing_fields
from api.models.campaigns import (
    CampaignRef,
    Edit,
    MessagePages,
    MessageRef,
    PublishedMessages,
    Review,
)
from api.models.responses import (
    Counted,
    Edited,
    Envelope,
    MessageOut,
    PagedEnvelope,
    Published,
    RegenerationQueued,
    Reviewed,
)
from api.responses import data, page_of
from domain.errors import CampaignNotFound

router = APIRouter(prefix="/v1/campaign/messages", tags=["Campaign Messages"])


def campaign_status(container: Container, account_id: UUID, campaign_id: UUID) -> str | None:
    row = container.read_models.campaign(account_id, campaign_id)
    return row.status if row else None


@router.post("/review", response_model=Envelope[Reviewed])
async def review(
    principal: PrincipalDep,
    container: ContainerDep,
    gate: GateDep,
    payload: Annotated[Review, body(Review)],
) -> dict[str, Any]:
    if payload.message_ids is None and not payload.all:
        raise missing_fields()
    result = await campaign_command(
        container,
        gate,
        principal,
        payload.campaign_id,
        lambda context, status: container.commands.review(
            context=context,
            account_id=principal.account_id,
            campaign_id=payload.campaign_id,
            message_ids=None if payload.all else payload.message_ids,
            decision=payload.decision,
            comment=payload.comment,
            settled_status=status,
        ),
    )
    return data(
        {
            "reviewed": result.count,
            "campaign_status": await run_in_threadpool(
                campaign_status, container, principal.account_id, result.campaign_id
            ),
        }
    )


@router.post("/edit", response_model=Envelope[Edited])
async def edit(
    principal: PrincipalDep,
    container: ContainerDep,
    gate: GateDep,
    payload: Annotated[Edit, body(Edit)],
) -> dict[str, Any]:
    await campaign_command(
        container,
        gate,
        principal,
        payload.campaign_id,
        lambda context, status: container.commands.edit(
            context=context,
            account_id=principal.account_id,
            campaign_id=payload.campaign_id,
            message_id=payload.message_id,
            content=payload.content,
            settled_status=status,
        ),
    )
    return data({"message_id": payload.message_id, "status": "Ready for review"})


@router.post("/regenerate", response_model=Envelope[RegenerationQueued])
async def regenerate(
    principal: PrincipalDep,
    container: ContainerDep,
    gate: GateDep,
    payload: Annotated[MessageRef, body(MessageRef)],
) -> dict[str, Any]:
    result = await campaign_command(
        container,
        gate,
        principal,
        payload.campaign_id,
        lambda context, status: container.commands.regenerate(
            context=context,
            account_id=principal.account_id,
            campaign_id=payload.campaign_id,
            message_id=payload.message_id,
            settled_status=status,
        ),
    )
    return data({"message_id": payload.message_id, "queued": True, "job_uid": result.job_uid})


@router.post("/publish", response_model=Envelope[Published])
async def publish(
    principal: PrincipalDep,
    container: ContainerDep,
    gate: GateDep,
    payload: Annotated[CampaignRef, body(CampaignRef)],
) -> dict[str, Any]:
    result = await campaign_command(
        container,
        gate,
        principal,
        payload.campaign_id,
        lambda context, status: container.commands.publish(
            context=context,
            account_id=principal.account_id,
            campaign_id=payload.campaign_id,
            settled_status=status,
        ),
    )
    return data(
        {
            "published": result.count,
            "campaign_status": await run_in_threadpool(
                campaign_status, container, principal.account_id, result.campaign_id
            ),
        }
    )


@router.post("/pages", response_model=Envelope[Counted])
def pages(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[MessagePages, body(MessagePages)],
) -> dict[str, Any]:
    found = container.read_models.message_pages(
        principal.account_id, payload.campaign_id, page_size=payload.page_size
    )
    if found is None:
        raise CampaignNotFound(payload.campaign_id)
    total, total_pages = found
    return data({"total": total, "total_pages": total_pages})


@router.post("/published", response_model=PagedEnvelope[MessageOut])
def published(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[PublishedMessages, body(PublishedMessages)],
) -> dict[str, Any]:
    found = container.read_models.published_messages(
        principal.account_id, payload.campaign_id, page=payload.page, page_size=payload.page_size
    )
    if found is None:
        raise CampaignNotFound(payload.campaign_id)
    return page_of(found.items, page=found.page, page_size=found.page_size, total=found.total)
