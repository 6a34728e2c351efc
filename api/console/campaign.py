"""One campaign: run history, the running job's progress, a page of a run's messages,
and the review actions, each through the API's own command path (``campaign_command``:
the campaign's turn, the settled status, read-your-writes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from api.auth import Principal
from api.console.campaigns import positive
from api.console.common import (
    BASE,
    ConsoleContainer,
    ConsoleGate,
    SessionForm,
    SignedIn,
    act,
    url,
)
from api.console.pages import render, with_headers
from api.console.session import csrf_token
from api.container import Container
from api.deps import campaign_command
from api.models import presenters
from api.models.campaigns import Edit, MessageRef, Review
from domain.errors import RunNotFound
from domain.statuses import MessageStatus
from projections.rows import CampaignRow, JobRow, MessageRow, Page, RunHistoryRow

router = APIRouter(prefix=BASE, include_in_schema=False)
PAGE_SIZES = (25, 50, 100, 200)
APPROVABLE = {str(MessageStatus.READY_FOR_REVIEW), str(MessageStatus.REJECTED)}


@dataclass(frozen=True)
class Shown:
    """Which messages the page shows: a run (None: the current one), a status, a page."""

    run: int | None
    status: str | None
    page: int
    page_size: int

    @classmethod
    def of(cls, values: Any) -> Shown:
        status = values.get("status") or None
        if status not in {None, *map(str, MessageStatus)}:
            status = None
        run = values.get("run") or None
        size = positive(values.get("page_size"), 50, 200)
        return cls(
            positive(run, 1, 2**31 - 1) if run else None,
            status,
            positive(values.get("page"), 1),
            size if size in PAGE_SIZES else 50,
        )

    def url(self, campaign_id: UUID, path: str = "", **changed: Any) -> str:
        query = {"run": self.run, "status": self.status, "page": self.page,
                 "page_size": self.page_size, **changed}  # fmt: skip
        if query["page"] == 1:
            query["page"] = None
        if query["page_size"] == 50:
            query["page_size"] = None
        return url(f"/campaigns/{campaign_id}{path}", **query)


@dataclass(frozen=True)
class CampaignView:
    campaign: CampaignRow
    history: list[RunHistoryRow]
    messages: Page[MessageRow]
    job: JobRow | None


def campaign_view(
    container: Container, account_id: UUID, campaign_id: UUID, shown: Shown
) -> CampaignView | None:
    reads = container.read_models
    campaign = reads.campaign(account_id, campaign_id)
    history = reads.run_history(account_id, campaign_id)
    if campaign is None or history is None:
        return None
    messages = reads.run_messages(
        account_id,
        campaign_id,
        run_number=shown.run,
        include_archived=False,
        page=shown.page,
        page_size=shown.page_size,
        status=shown.status,
    )
    if messages is None:
        return None
    current = next((run for run in history if run.is_current), None)
    job = reads.job(account_id, current.job_uid) if current else None
    return CampaignView(campaign, history, messages, job)


def not_found(request: Request, principal: Principal, what: str = "Campaign") -> Response:
    """Another account's campaign is answered exactly like a missing one."""
    return render(request, "not_found.html", 404, principal=principal, what=what, url=url)


@router.get("/campaigns/{campaign_id}")
async def campaign_page(
    request: Request, campaign_id: UUID, principal: SignedIn, container: ConsoleContainer
) -> Response:
    shown = Shown.of(request.query_params)
    try:
        view = await run_in_threadpool(
            campaign_view, container, principal.account_id, campaign_id, shown
        )
    except RunNotFound:
        return not_found(request, principal, "Run")
    if view is None:
        return not_found(request, principal)
    current_run = view.campaign.current_run_number
    reviewing = shown.run in (None, current_run)
    return render(
        request,
        "campaign.html",
        principal=principal,
        csrf=csrf_token(request, container),
        view=view,
        shown=shown,
        reviewing=reviewing,
        counts=presenters.message_counts(view.campaign.message_counts),
        message_statuses=list(map(str, MessageStatus)),
        approvable=[m.message_id for m in view.messages.items if m.status in APPROVABLE],
        page_sizes=PAGE_SIZES,
        url=url,
    )


@router.get("/campaigns/{campaign_id}/progress.json")
async def progress(campaign_id: UUID, principal: SignedIn, container: ConsoleContainer) -> Response:
    """The running job's phase and counts, for the page's progress bar."""

    def read() -> dict[str, Any] | None:
        reads = container.read_models
        history = reads.run_history(principal.account_id, campaign_id)
        current = next((run for run in history or [] if run.is_current), None)
        job = reads.job(principal.account_id, current.job_uid) if current else None
        return presenters.job(job) if job else None

    job = await run_in_threadpool(read)
    if job is None:
        return with_headers(JSONResponse({"message": "Not found"}, status_code=404))
    answer = {"phase": job["phase"], **job["progress"], "error": job.get("error")}
    return with_headers(JSONResponse(answer))


def back(campaign_id: UUID, request: Request) -> str:
    """The page an action was sent from: its form's action carries the page's query."""
    return Shown.of(request.query_params).url(campaign_id)


@router.post("/campaigns/{campaign_id}/review")
async def review(
    request: Request,
    campaign_id: UUID,
    principal: SignedIn,
    container: ConsoleContainer,
    gate: ConsoleGate,
    form: SessionForm,
) -> Response:
    """Approve or reject the messages the form names (one, or every visible one)."""

    async def decide() -> str:
        payload = Review.model_validate(
            {
                "campaign_id": campaign_id,
                "decision": form.get("decision"),
                "message_ids": form.all("message_id"),
                "comment": form.get("comment") or None,
            }
        )
        result = await campaign_command(
            container,
            gate,
            principal,
            campaign_id,
            lambda context, status: container.commands.review(
                context=context,
                account_id=principal.account_id,
                campaign_id=campaign_id,
                message_ids=payload.message_ids,
                decision=payload.decision,
                comment=payload.comment,
                settled_status=status,
            ),
        )
        verb = "approved" if payload.decision == "approve" else "rejected"
        return f"{result.count} message{'s' if result.count != 1 else ''} {verb}."

    return await act(request, back(campaign_id, request), decide)


@router.post("/campaigns/{campaign_id}/edit")
async def edit(
    request: Request,
    campaign_id: UUID,
    principal: SignedIn,
    container: ConsoleContainer,
    gate: ConsoleGate,
    form: SessionForm,
) -> Response:
    async def save() -> str:
        payload = Edit.model_validate(
            {
                "campaign_id": campaign_id,
                "message_id": form.get("message_id"),
                "content": form.get("content"),
            }
        )
        await campaign_command(
            container,
            gate,
            principal,
            campaign_id,
            lambda context, status: container.commands.edit(
                context=context,
                account_id=principal.account_id,
                campaign_id=campaign_id,
                message_id=payload.message_id,
                content=payload.content,
                settled_status=status,
            ),
        )
        return "Message edited; it is ready for review again."

    return await act(request, back(campaign_id, request), save)


@router.post("/campaigns/{campaign_id}/regenerate")
async def regenerate(
    request: Request,
    campaign_id: UUID,
    principal: SignedIn,
    container: ConsoleContainer,
    gate: ConsoleGate,
    form: SessionForm,
) -> Response:
    async def queue() -> str:
        payload = MessageRef.model_validate(
            {"campaign_id": campaign_id, "message_id": form.get("message_id")}
        )
        await campaign_command(
            container,
            gate,
            principal,
            campaign_id,
            lambda context, status: container.commands.regenerate(
                context=context,
                account_id=principal.account_id,
                campaign_id=campaign_id,
                message_id=payload.message_id,
                settled_status=status,
            ),
        )
        return "Regeneration queued."

    return await act(request, back(campaign_id, request), queue)


@router.post("/campaigns/{campaign_id}/publish")
async def publish(
    request: Request,
    campaign_id: UUID,
    principal: SignedIn,
    container: ConsoleContainer,
    gate: ConsoleGate,
    form: SessionForm,
) -> Response:
    async def publish_all() -> str:
        result = await campaign_command(
            container,
            gate,
            principal,
            campaign_id,
            lambda context, status: container.commands.publish(
                context=context,
                account_id=principal.account_id,
                campaign_id=campaign_id,
                settled_status=status,
            ),
        )
        return f"{result.count} message{'s' if result.count != 1 else ''} published."

    return await act(request, back(campaign_id, request), publish_all)
