"""A rerun: pick a customer group, see what it would do (the preview use case, saving
nothing), then initiate it; refusals are shown in the words the API answers with."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.console.campaign import not_found
from api.console.campaigns import GROUPS_SHOWN
from api.console.common import (
    BASE,
    ConsoleContainer,
    ConsoleGate,
    SessionForm,
    SignedIn,
    act,
    refusal,
    url,
)
from api.console.pages import render
from api.console.session import csrf_token
from api.deps import campaign_command
from api.errors import ApiError
from api.models import presenters
from api.models.campaigns import Initiate
from domain.errors import DomainError

router = APIRouter(prefix=BASE, include_in_schema=False)
SAMPLE = 10


@router.get("/campaigns/{campaign_id}/rerun")
async def rerun_page(
    request: Request, campaign_id: UUID, principal: SignedIn, container: ConsoleContainer
) -> Response:
    account = principal.account_id
    campaign = await run_in_threadpool(container.read_models.campaign, account, campaign_id)
    if campaign is None:
        return not_found(request, principal)
    groups, _ = await run_in_threadpool(container.groups.page, account, 1, GROUPS_SHOWN)
    chosen = request.query_params.get("group") or ""
    preview: dict[str, Any] | None = None
    problem = ""
    if chosen:
        try:
            payload = Initiate.model_validate(
                {"campaign_id": campaign_id, "new_customer_group_id": chosen}
            )
            found = await run_in_threadpool(
                lambda: container.commands.preview_rerun(
                    account_id=account,
                    campaign_id=campaign_id,
                    new_customer_group_id=payload.new_customer_group_id,
                )
            )
            preview = presenters.rerun_preview(found)
        except (ValidationError, ApiError, DomainError) as error:
            problem = refusal(error)
    return render(
        request,
        "rerun.html",
        principal=principal,
        csrf=csrf_token(request, container),
        campaign=campaign,
        groups=groups,
        chosen=chosen,
        preview=preview,
        problem=problem,
        sample=SAMPLE,
        url=url,
    )


@router.post("/campaigns/{campaign_id}/rerun")
async def initiate(
    request: Request,
    campaign_id: UUID,
    principal: SignedIn,
    container: ConsoleContainer,
    gate: ConsoleGate,
    form: SessionForm,
) -> Response:
    group = form.get("new_customer_group_id")
    started: list[Any] = []

    async def start() -> str:
        payload = Initiate.model_validate(
            {"campaign_id": campaign_id, "new_customer_group_id": group}
        )
        result = await campaign_command(
            container,
            gate,
            principal,
            campaign_id,
            lambda context, status: container.commands.initiate_rerun(
                context=context,
                account_id=principal.account_id,
                campaign_id=campaign_id,
                new_customer_group_id=payload.new_customer_group_id,
                settled_status=status,
            ),
        )
        started.append(result)
        return f"Run {result.run_number} started."

    response = await act(request, url(f"/campaigns/{campaign_id}/rerun", group=group), start)
    if started:
        response.headers["location"] = url(f"/campaigns/{campaign_id}")
    return response
