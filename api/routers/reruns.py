"""The three Campaign Reruns endpoints of the published page, plus retry and job status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from starlette.responses import Response

from api.auth import Principal
from api.deps import ContainerDep, PagesDep, PrincipalDep, body, command
from api.models import presenters
from api.models.campaigns import CampaignRef, Initiate, JobRef, RunMessages
from api.models.responses import (
    Envelope,
    JobOut,
    MessageOut,
    PagedEnvelope,
    RerunOut,
    RetryOut,
    RunHistoryOut,
)
from api.responses import JSONResponse, data, raw_json
from api.routers.campaigns import IdempotencyKey
from application.errors import JobNotFound
from domain.errors import CampaignNotFound
from projections.page_queries import PageQueries

router = APIRouter(prefix="/v1/campaign/rerun", tags=["Campaign Reruns"])


# The two hot reads: async (no thread-pool hop), one SQL statement each, the body built
# by PostgreSQL (projections.page_queries). api.hot_reads answers their plain successes
# without FastAPI's routing, through the same answer functions.
async def history_answer(pages: PageQueries, principal: Principal, payload: CampaignRef) -> bytes:
    answer = await pages.run_history(principal.account_id, payload.campaign_id)
    if answer is None:
        raise CampaignNotFound(payload.campaign_id)
    return answer


async def messages_answer(pages: PageQueries, principal: Principal, payload: RunMessages) -> bytes:
    answer = await pages.run_messages(
        principal.account_id,
        payload.campaign_id,
        run_number=payload.run_number,
        include_archived=payload.include_archived,
        page=payload.page,
        page_size=payload.page_size,
    )
    if answer is None:
        raise CampaignNotFound(payload.campaign_id)
    return answer


@router.post("/history", response_model=Envelope[list[RunHistoryOut]])
async def history(
    principal: PrincipalDep,
    pages: PagesDep,
    payload: Annotated[CampaignRef, body(CampaignRef)],
) -> Response:
    return raw_json(await history_answer(pages, principal, payload))


@router.post("/messages", response_model=PagedEnvelope[MessageOut])
async def messages(
    principal: PrincipalDep,
    pages: PagesDep,
    payload: Annotated[RunMessages, body(RunMessages)],
) -> Response:
    return raw_json(await messages_answer(pages, principal, payload))


@router.post("/initiate", response_model=Envelope[RerunOut])
def initiate(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[Initiate, body(Initiate)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    started = command(
        container,
        principal,
        lambda context: container.commands.initiate_rerun(
            context=context,
            account_id=principal.account_id,
            campaign_id=payload.campaign_id,
            new_customer_group_id=payload.new_customer_group_id,
            idempotency_key=idempotency_key,
        ),
    )
    return data(presenters.rerun(started))


@router.post("/retry", response_model=Envelope[RetryOut])
def retry(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[CampaignRef, body(CampaignRef)],
) -> JSONResponse:
    result = command(
        container,
        principal,
        lambda context: container.commands.retry(
            context=context, account_id=principal.account_id, campaign_id=payload.campaign_id
        ),
    )
    return data(
        {"campaign_id": result.campaign_id, "job_uid": result.job_uid, "status": "Processing"}
    )


@router.post("/job", response_model=Envelope[JobOut])
def job(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[JobRef, body(JobRef)],
) -> JSONResponse:
    row = container.read_models.job(principal.account_id, payload.job_uid)
    if row is None:
        raise JobNotFound(None)
    return data(presenters.job(row))
