"""Customer profile fields: create, list, update, delete."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter

from api.deps import ContainerDep, PrincipalDep, body
from api.models.content import FieldCreate, FieldList, FieldRef, FieldUpdate
from api.models.responses import Envelope, FieldDeleted, FieldOut, PagedEnvelope
from api.responses import data, page_of

router = APIRouter(prefix="/v1/customer-fields", tags=["Customer Profile Fields"])


@router.post("/create", response_model=Envelope[FieldOut])
def create(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[FieldCreate, body(FieldCreate)],
) -> dict[str, Any]:
    field = container.fields.create(
        principal.account_id, payload.name, payload.type, payload.required
    )
    return data(asdict(field))


@router.post("/list", response_model=PagedEnvelope[FieldOut])
def list_fields(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[FieldList, body(FieldList)],
) -> dict[str, Any]:
    fields = container.fields.all(principal.account_id)
    start = (payload.page - 1) * payload.page_size
    shown = [asdict(f) for f in fields[start : start + payload.page_size]]
    return page_of(shown, page=payload.page, page_size=payload.page_size, total=len(fields))


@router.post("/update", response_model=Envelope[FieldOut])
def update(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[FieldUpdate, body(FieldUpdate)],
) -> dict[str, Any]:
    field = container.fields.update(
        principal.account_id,
        payload.field_id,
        name=payload.name,
        type=payload.type,
        required=payload.required,
    )
    return data(asdict(field))


@router.post("/delete", response_model=Envelope[FieldDeleted])
def delete(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[FieldRef, body(FieldRef)],
) -> dict[str, Any]:
    container.fields.delete(principal.account_id, payload.field_id)
    return data({"field_id": payload.field_id, "deleted": True})
