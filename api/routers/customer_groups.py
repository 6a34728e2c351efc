"""Customer groups: create, list, update membership, delete."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter

from api.body import UPLOAD_LIMIT
from api.deps import ContainerDep, PrincipalDep, body
from api.models import presenters
from api.models.common import Paging
from api.models.content import GroupCreate, GroupRef, GroupUpdate
from api.models.responses import Envelope, GroupDeleted, GroupOut, PagedEnvelope
from api.responses import data, page_of
from application.content.errors import GroupInUse

router = APIRouter(prefix="/v1/customer-groups", tags=["Customer Groups"])


@router.post("/create", response_model=Envelope[GroupOut])
def create(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[GroupCreate, body(GroupCreate, UPLOAD_LIMIT)],
) -> dict[str, Any]:
    group = container.groups.create(principal.account_id, payload.name, payload.external_ids)
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
def update(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[GroupUpdate, body(GroupUpdate, UPLOAD_LIMIT)],
) -> dict[str, Any]:
    group = container.groups.update(
        principal.account_id,
        payload.customer_group_id,
        name=payload.name,
        add_external_ids=payload.add_external_ids,
        remove_external_ids=payload.remove_external_ids,
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
