"""A campaign's audit: its event timeline with who, where and which request, its
stream's hash-chain check, and its export (the lines of ``events export --campaign-id``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from api.console.campaign import not_found
from api.console.campaigns import positive
from api.console.common import BASE, ConsoleContainer, SignedIn, url
from api.console.pages import render, with_headers
from api.console.summaries import summary
from api.container import Container
from application.audit import stream_events, verify_stream
from application.export import export_lines

router = APIRouter(prefix=BASE, include_in_schema=False)
EVENTS_PER_PAGE = 100


def timeline(
    container: Container, account_id: UUID, campaign_id: UUID, after: int
) -> dict[str, Any]:
    # The events table belongs to no account: the caller has checked the campaign is
    # this account's (its read-model row) before reading its stream.
    with container.pool.connection() as conn:
        events = stream_events(conn, campaign_id, after_version=after, limit=EVENTS_PER_PAGE + 1)
        checked, problems = verify_stream(conn, campaign_id)
    shown = events[:EVENTS_PER_PAGE]
    keys = sorted({str(e["data"]["segment_key"]) for e in shown if e["data"].get("segment_key")})
    values = container.read_models.segment_values(account_id, campaign_id, keys)
    for event in shown:
        data = event["data"]
        key = data.get("segment_key")
        if key in values:  # a segment reads as its values, not as its key's hash
            data = {**data, "segment_key": " ".join(f"{k}={v}" for k, v in values[key].items())}
        event["summary"] = summary(event["type"], data)
    return {
        "events": shown,
        "more": len(events) > EVENTS_PER_PAGE,
        "checked": checked,
        "problems": problems,
    }


@router.get("/campaigns/{campaign_id}/timeline")
async def timeline_page(
    request: Request, campaign_id: UUID, principal: SignedIn, container: ConsoleContainer
) -> Response:
    campaign = await run_in_threadpool(
        container.read_models.campaign, principal.account_id, campaign_id
    )
    if campaign is None:
        return not_found(request, principal)
    after = (
        positive(request.query_params.get("after"), 1) if request.query_params.get("after") else 0
    )
    view = await run_in_threadpool(timeline, container, principal.account_id, campaign_id, after)
    return render(
        request,
        "timeline.html",
        principal=principal,
        campaign=campaign,
        after=after,
        url=url,
        **view,
    )


@router.get("/campaigns/{campaign_id}/export.jsonl")
async def export(
    request: Request, campaign_id: UUID, principal: SignedIn, container: ConsoleContainer
) -> Response:
    campaign = await run_in_threadpool(
        container.read_models.campaign, principal.account_id, campaign_id
    )
    if campaign is None:
        return not_found(request, principal)

    def lines() -> Iterator[bytes]:
        # A page of lines at a time from a server-side cursor: constant memory.
        with container.pool.connection() as conn:
            yield from export_lines(conn, campaign_id=campaign_id)

    response = StreamingResponse(lines(), media_type="application/x-ndjson")
    response.headers["Content-Disposition"] = f'attachment; filename="campaign-{campaign_id}.jsonl"'
    return with_headers(response)
