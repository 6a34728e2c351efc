"""Campaigns: create (run 1 generated in the background), list, get."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from starlette.concurrency import run_in_threadpool

from api.deps import ContainerDep, GateDep, PrincipalDep, body, command
from api.errors import bad_request
from api.models import presenters
from api.models.campaigns import CampaignCreate, CampaignList
from api.models.responses import CampaignOut, CampaignStarted, Envelope, PagedEnvelope
from api.models.time_travel import CampaignGet, campaign_state
from api.responses import data, page_of
from application.idempotency import MAX_KEY_LENGTH
from domain.errors import CampaignNotFound

router = APIRouter(prefix="/v1/campaign", tags=["Campaigns"])


async def idempotency_key(
    key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=MAX_KEY_LENGTH)] = None,
) -> str | None:
    """An empty key would make every request that sends one the repeat of the first.
    (``async``: FastAPI runs a plain ``def`` dependency in the thread pool.)"""
    if key is not None and not key.strip():
        raise bad_request(
            "Idempotency-Key must not be empty (omit the header for no key)",
            "invalid_idempotency_key",
        )
    return key


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]


@router.post("/create", response_model=Envelope[CampaignStarted])
async def create(
    principal: PrincipalDep,
    container: ContainerDep,
    gate: GateDep,
    payload: Annotated[CampaignCreate, body(CampaignCreate)],
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Define a campaign and start its run 1. Refused (400), storing nothing, when that run
    is certain to fail: a provider this server has no endpoint for
    (`provider_not_configured`), or a template that renders an empty or over-long message,
    by its fixed text alone or for a segment the group holds (`template_cannot_render`)."""
    async with gate.heavy():  # segments of the whole group, like a rerun's
        started = await run_in_threadpool(
            command,
            container,
            principal,
            lambda context: container.commands.create(
                context=context,
                account_id=principal.account_id,
                name=payload.name,
                customer_group_id=payload.customer_group_id,
                segment_variables=payload.segment_variables,
                ai_config=payload.ai_config.model_dump(exclude_unset=True),
                idempotency_key=idempotency_key,
            ),
        )
    return data(
        {
            "campaign_id": started.campaign_id,
            "run_number": started.run_number,
            "job_uid": started.job_uid,
            "status": "Processing",
        }
    )


@router.post("/list", response_model=PagedEnvelope[CampaignOut])
def list_campaigns(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[CampaignList, body(CampaignList)],
) -> dict[str, Any]:
    found = container.read_models.campaigns(
        principal.account_id, page=payload.page, page_size=payload.page_size, status=payload.status
    )
    return page_of(
        [presenters.campaign(row) for row in found.items],
        page=found.page,
        page_size=found.page_size,
        total=found.total,
    )


@router.post("/get", response_model=Envelope[CampaignOut])
def get(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[CampaignGet, body(CampaignGet)],
) -> dict[str, Any]:
    """Now (from the read model), or as it was at the end of run ``as_of_run`` or at the
    moment ``as_of`` (from the aggregate at that version of its stream)."""
    if payload.as_of_run is not None and payload.as_of is not None:
        raise bad_request("Give as_of_run or as_of, not both", "invalid_field")
    travel, account_id = container.time_travel, principal.account_id
    if payload.as_of_run is not None:
        return data(
            campaign_state(travel.as_of_run(account_id, payload.campaign_id, payload.as_of_run))
        )
    if payload.as_of is not None:
        return data(campaign_state(travel.as_of(account_id, payload.campaign_id, payload.as_of)))
    row = container.read_models.campaign(principal.account_id, payload.campaign_id)
    if row is None:
        raise CampaignNotFound(payload.campaign_id)
    return data(presenters.campaign(row))
