"""The campaigns of the account: the list (filtered by status) and creating one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.auth import Principal
from api.console.common import (
    BASE,
    ConsoleContainer,
    ConsoleGate,
    SessionForm,
    SignedIn,
    act,
    url,
)
from api.console.forms import Form
from api.console.pages import render
from api.console.session import csrf_token
from api.container import Container
from api.deps import command
from api.models.campaigns import CampaignCreate
from api.models.presenters import message_counts
from domain.statuses import CampaignStatus, MessageStatus

router = APIRouter(prefix=BASE, include_in_schema=False)
CAMPAIGNS_PER_PAGE = 50
GROUPS_SHOWN = 500


def positive(value: str | None, default: int, most: int = 1_000_000) -> int:
    try:
        return min(max(int(value or default), 1), most)
    except ValueError:
        return default


def list_view(
    container: Container, principal: Principal, status: str | None, page: int
) -> dict[str, Any]:
    account = principal.account_id
    found = container.read_models.campaigns(
        account, page=page, page_size=CAMPAIGNS_PER_PAGE, status=status
    )
    groups, _ = container.groups.page(account, 1, GROUPS_SHOWN)
    return {
        "campaigns": [(row, message_counts(row.message_counts)) for row in found.items],
        "found": found,
        "groups": groups,
        "fields": container.fields.all(account),
    }


@router.get("/campaigns")
async def campaigns(request: Request, principal: SignedIn, container: ConsoleContainer) -> Response:
    status = request.query_params.get("status") or None
    if status not in {None, *map(str, CampaignStatus)}:
        status = None
    page = positive(request.query_params.get("page"), 1)
    view = await run_in_threadpool(list_view, container, principal, status, page)
    return render(
        request,
        "campaigns.html",
        principal=principal,
        csrf=csrf_token(request, container),
        status=status,
        statuses=list(map(str, CampaignStatus)),
        message_statuses=list(map(str, MessageStatus)),
        url=url,
        **view,
    )


def ai_config(form: Form) -> dict[str, Any]:
    """The form's generator settings as the API's ``ai_config``; blanks left out."""
    if form.get("provider") == "openai":
        config: dict[str, Any] = {"provider": "openai", "prompt": form.get("prompt")}
        for name in ("model", "system_prompt"):
            if form.get(name).strip():
                config[name] = form.get(name).strip()
        return config
    return {"provider": "template", "template": form.get("template")}


@router.post("/campaigns")
async def create(
    request: Request,
    principal: SignedIn,
    container: ConsoleContainer,
    gate: ConsoleGate,
    form: SessionForm,
) -> Response:
    created: list[str] = []

    async def create_campaign() -> str:
        payload = CampaignCreate.model_validate(
            {
                "name": form.get("name"),
                "customer_group_id": form.get("customer_group_id"),
                "segment_variables": form.all("segment_variables"),
                "ai_config": ai_config(form),
            }
        )
        async with gate.heavy():  # as the API's create
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
                ),
            )
        created.append(str(started.campaign_id))
        return f"Campaign “{payload.name}” created; run 1 is being generated."

    response = await act(request, url("/campaigns"), create_campaign)
    if created:
        response.headers["location"] = url(f"/campaigns/{created[0]}")
    return response
