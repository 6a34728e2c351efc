"""The three Campaign Reruns endpoints of the public API, plus preview, retry and job
status."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.deps import ContainerDep, GateDep, PrincipalDep, ReadsDep, body, campaign_command
from api.models import presenters
from api.models.campaigns import CampaignRef, Initiate, JobRef, RunMessages
from api.models.responses import (
    Envelope,
    JobOut,
    MessageOut,
    PagedEnvelope,
    RerunOut,
    RerunPreviewOut,
    RetryOut,
    RunHistoryOut,
)
from api.responses import data, page_of, validated
from api.routers.campaigns import IdempotencyKey
from application.errors import JobNotFound
from domain.errors import CampaignNotFound

router = APIRouter(prefix="/v1/campaign/rerun", tags=["Campaign Reruns"])


# The two hot reads are awaited on the event loop (projections.async_reads): no worker
# thread per request.
@router.post("/history", response_model=Envelope[list[RunHistoryOut]])
async def history(
    principal: PrincipalDep,
    reads: ReadsDep,
    payload: Annotated[CampaignRef, body(CampaignRef)],
) -> dict[str, Any]:
    rows = await reads.run_history(principal.account_id, payload.campaign_id)
    if rows is None:
        raise CampaignNotFound(payload.campaign_id)
    return data(rows)


@router.post("/messages", response_model=PagedEnvelope[MessageOut])
async def messages(
    principal: PrincipalDep,
    reads: ReadsDep,
    payload: Annotated[RunMessages, body(RunMessages)],
) -> dict[str, Any]:
    found = await reads.run_messages(
        principal.account_id,
        payload.campaign_id,
        run_number=payload.run_number,
        include_archived=payload.include_archived,
        page=payload.page,
        page_size=payload.page_size,
    )
    if found is None:
        raise CampaignNotFound(payload.campaign_id)
    return page_of(found.items, page=found.page, page_size=found.page_size, total=found.total)


# Commands on a campaign run in its turn, at most a few at once (api.gate).
@router.post("/initiate", response_model=Envelope[RerunOut])
async def initiate(
    principal: PrincipalDep,
    container: ContainerDep,
    gate: GateDep,
    payload: Annotated[Initiate, body(Initiate)],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    started = await campaign_command(
        container,
        gate,
        principal,
        payload.campaign_id,
        lambda context, status: container.commands.initiate_rerun(
            context=context,
            account_id=principal.account_id,
            campaign_id=payload.campaign_id,
            new_customer_group_id=payload.new_customer_group_id,
            idempotency_key=idempotency_key,
            settled_status=status,
        ),
    )
    answer = data(presenters.rerun(started))  # every segment, matched, new or orphaned
    return await run_in_threadpool(validated, Envelope[RerunOut], answer)


@router.post("/preview", response_model=Envelope[RerunPreviewOut])
def preview(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[Initiate, body(Initiate)],
) -> dict[str, Any]:
    """What initiate would answer now (its comparison and expected campaign status),
    writing nothing; refused like initiate, except that the campaign need not be
    Published."""
    found = container.commands.preview_rerun(
        account_id=principal.account_id,
        campaign_id=payload.campaign_id,
        new_customer_group_id=payload.new_customer_group_id,
    )
    return data(presenters.rerun_preview(found))


@router.post("/retry", response_model=Envelope[RetryOut])
async def retry(
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
        lambda context, _status: container.commands.retry(
            context=context, account_id=principal.account_id, campaign_id=payload.campaign_id
        ),
    )
    return data(
        {"campaign_id": result.campaign_id, "job_uid": result.job_uid, "status": "Processing"}
    )


# exclude_unset: "error" is answered only for a failed job (the presenter leaves it out).
@router.post("/job", response_model=Envelope[JobOut], response_model_exclude_unset=True)
def job(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[JobRef, body(JobRef)],
) -> dict[str, Any]:
    row = container.read_models.job(principal.account_id, payload.job_uid)
    if row is None:
        raise JobNotFound(None)
    return data(presenters.job(row))
