"""Customer groups: create, list, update membership, delete.

A membership list may be as large as an upload (``UPLOAD_LIMIT``), so create and update
read, parse and write it in the upload turn (``api.gate``), off the event loop."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from api.body import UPLOAD_LIMIT, BodyInTurn, PendingBody
from api.deps import ContainerDep, GateDep, PrincipalDep, body
from api.models import presenters
from api.models.common import Paging
from api.models.content import GroupCreate, GroupRef, GroupUpdate
from api.models.responses import Envelope, GroupDeleted, GroupOut, PagedEnvelope
from api.responses import data, page_of
from application.content.errors import GroupInUse

router = APIRouter(prefix="/v1/customer-groups", tags=["Customer Groups"])


CreateBody = Annotated[PendingBody[GroupCreate], Depends(BodyInTurn(GroupCreate, UPLOAD_LIMIT))]
UpdateBody = Annotated[PendingBody[GroupUpdate], Depends(BodyInTurn(GroupUpdate, UPLOAD_LIMIT))]


@router.post("/create", response_model=Envelope[GroupOut])
async def create(
    principal: PrincipalDep, container: ContainerDep, gate: GateDep, pending: CreateBody
) -> dict[str, Any]:
    async with gate.upload():
        payload = await pending.receive(container.settings.body_timeout_seconds)
        group = await run_in_threadpool(
            container.groups.create, principal.account_id, payload.name, payload.external_ids
        )
    return data(asdict(group))


@router.post("/list", response_model=PagedEnvelope[GroupOut])
def list_groups(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[Paging, body(Paging)],
) -> dict[str, Any]:
    items, total = container.groups.page(principal.account_id, payload.page, payload.page_size)
    return page_of(
        presenters.groups(items), page=payload.page, page_size=payload.page_size, total=total
    )


@router.post("/update", response_model=Envelope[GroupOut])
async def update(
    principal: PrincipalDep, container: ContainerDep, gate: GateDep, pending: UpdateBody
) -> dict[str, Any]:
    async with gate.upload():
        payload = await pending.receive(container.settings.body_timeout_seconds)
        group = await run_in_threadpool(
            lambda: container.groups.update(
                principal.account_id,
                payload.customer_group_id,
                name=payload.name,
                add_external_ids=payload.add_external_ids,
                remove_external_ids=payload.remove_external_ids,
            )
        )
    return data(asdict(group))


@router.post("/delete", response_model=Envelope[GroupDeleted])
def delete(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[GroupRef, body(GroupRef)],
) -> dict[str, Any]:
    if container.read_models.group_in_current_run(principal.account_id, payload.customer_group_id):
        raise GroupInUse(None)
    container.groups.delete(principal.account_id, payload.customer_group_id)
    return data({"customer_group_id": payload.customer_group_id, "deleted": True})
