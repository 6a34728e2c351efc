"""Customers: upload and validate, list, pages, delete."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from api.body import UPLOAD_LIMIT
from api.deps import ContainerDep, GateDep, PrincipalDep, body
from api.models import presenters
from api.models.common import PageSize, Paging
from api.models.content import CustomersDelete, CustomersUpload
from api.models.responses import (
    Counted,
    CustomerOut,
    CustomersDeleted,
    Envelope,
    PagedEnvelope,
    UploadOut,
)
from api.responses import data, page_of
from api.streamed_body import LargeBody, StreamedBody
from application.content.customers import UploadResult

router = APIRouter(prefix="/v1/customers", tags=["Customers"])


UploadBody = Annotated[
    LargeBody[CustomersUpload], Depends(StreamedBody(CustomersUpload, "customers", UPLOAD_LIMIT))
]


@router.post("/upload", response_model=Envelope[UploadOut])
async def upload(
    principal: PrincipalDep, container: ContainerDep, gate: GateDep, payload: UploadBody
) -> dict[str, Any]:
    """Rows are parsed and written one at a time, one upload at a time (api.gate)."""

    def check_and_write() -> UploadResult:
        rows = payload.check()
        return container.customers.upload(
            principal.account_id, payload.items(), validate_only=rows.validate_only
        )

    async with gate.upload():
        await payload.receive(container.settings.body_timeout_seconds)
        result = await run_in_threadpool(check_and_write)
    return data(presenters.upload(result))


@router.post("/list", response_model=PagedEnvelope[CustomerOut])
def list_customers(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[Paging, body(Paging)],
) -> dict[str, Any]:
    items, total = container.customers.page(principal.account_id, payload.page, payload.page_size)
    return page_of(
        [asdict(c) for c in items], page=payload.page, page_size=payload.page_size, total=total
    )


@router.post("/pages", response_model=Envelope[Counted])
def pages(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[PageSize, body(PageSize)],
) -> dict[str, Any]:
    total = container.customers.count(principal.account_id)
    return data({"total": total, "total_pages": -(-total // payload.page_size)})


@router.post("/delete", response_model=Envelope[CustomersDeleted])
def delete(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[CustomersDelete, body(CustomersDelete)],
) -> dict[str, Any]:
    deleted = container.customers.delete(principal.account_id, payload.external_ids)
    return data({"deleted": deleted})
