"""Webhook endpoints of the account: create, list, update, delete, rotate-secret, test,
deliveries, redeliver (``application.webhooks.endpoints``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter

from api.deps import ContainerDep, PrincipalDep, body
from api.models.responses import Envelope, PagedEnvelope
from api.models.webhooks import (
    WebhookAttemptOut,
    WebhookCreate,
    WebhookCreated,
    WebhookDeleted,
    WebhookDeliveries,
    WebhookList,
    WebhookOut,
    WebhookQueued,
    WebhookRedeliver,
    WebhookRef,
    WebhookSecret,
    WebhookUpdate,
)
from api.responses import data, page_of

router = APIRouter(prefix="/v1/webhooks", tags=["Webhooks"])


@router.post("/create", response_model=Envelope[WebhookCreated])
def create(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[WebhookCreate, body(WebhookCreate)],
) -> dict[str, Any]:
    endpoint, secret = container.webhooks.create(
        principal.account_id, payload.url, payload.events, payload.description
    )
    return data({**asdict(endpoint), "secret": secret})


@router.post("/list", response_model=PagedEnvelope[WebhookOut])
def list_webhooks(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[WebhookList, body(WebhookList)],
) -> dict[str, Any]:
    endpoints, total = container.webhooks.page(
        principal.account_id, payload.page, payload.page_size
    )
    shown = [asdict(e) for e in endpoints]
    return page_of(shown, page=payload.page, page_size=payload.page_size, total=total)


@router.post("/update", response_model=Envelope[WebhookOut])
def update(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[WebhookUpdate, body(WebhookUpdate)],
) -> dict[str, Any]:
    endpoint = container.webhooks.update(
        principal.account_id,
        payload.webhook_id,
        url=payload.url,
        kinds=payload.events,
        description=payload.description,
        enabled=payload.enabled,
    )
    return data(asdict(endpoint))


@router.post("/delete", response_model=Envelope[WebhookDeleted])
def delete(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[WebhookRef, body(WebhookRef)],
) -> dict[str, Any]:
    container.webhooks.delete(principal.account_id, payload.webhook_id)
    return data({"webhook_id": payload.webhook_id, "deleted": True})


@router.post("/rotate-secret", response_model=Envelope[WebhookSecret])
def rotate_secret(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[WebhookRef, body(WebhookRef)],
) -> dict[str, Any]:
    secret = container.webhooks.rotate_secret(principal.account_id, payload.webhook_id)
    return data({"webhook_id": payload.webhook_id, "secret": secret})


@router.post("/test", response_model=Envelope[WebhookQueued])
def test(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[WebhookRef, body(WebhookRef)],
) -> dict[str, Any]:
    message_id = container.webhooks.test(principal.account_id, payload.webhook_id)
    return data({"webhook_id": payload.webhook_id, "message_id": message_id})


@router.post("/deliveries", response_model=PagedEnvelope[WebhookAttemptOut])
def deliveries(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[WebhookDeliveries, body(WebhookDeliveries)],
) -> dict[str, Any]:
    attempts, total = container.webhooks.attempts(
        principal.account_id,
        payload.webhook_id,
        payload.page,
        payload.page_size,
        payload.message_id,
    )
    shown = [asdict(a) for a in attempts]
    return page_of(shown, page=payload.page, page_size=payload.page_size, total=total)


@router.post("/redeliver", response_model=Envelope[WebhookQueued])
def redeliver(
    principal: PrincipalDep,
    container: ContainerDep,
    payload: Annotated[WebhookRedeliver, body(WebhookRedeliver)],
) -> dict[str, Any]:
    container.webhooks.redeliver(principal.account_id, payload.webhook_id, payload.message_id)
    return data({"webhook_id": payload.webhook_id, "message_id": payload.message_id})
