"""Bodies and answers of the webhook endpoints (``/v1/webhooks/*``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from api.models.common import NO_NUL, Identifier, Paging, RequestBody, example

Url = Annotated[str, Field(min_length=1, max_length=2000, json_schema_extra=NO_NUL)]
Description = Annotated[str, Field(max_length=500, json_schema_extra=NO_NUL)]
# Which names exist is the application's rule (application.webhooks.events.EVENT_TYPES).
EventTypes = Annotated[list[Identifier], Field(min_length=1, max_length=20)]
WEBHOOK_ID = "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
MESSAGE_ID = "msg_2f9a7c1e4b6d4e0f8a3b5c7d9e1f2a4b"
MessageId = Annotated[str, Field(min_length=1, max_length=100, json_schema_extra=NO_NUL)]


class WebhookCreate(RequestBody):
    model_config = example(
        url="https://crm.example.com/hooks/nudgescribe",
        events=["run.completed", "run.failed"],
        description="CRM sync",
    )

    url: Url
    events: EventTypes
    description: Description | None = None


class WebhookRef(RequestBody):
    model_config = example(webhook_id=WEBHOOK_ID)

    webhook_id: UUID


class WebhookUpdate(WebhookRef):
    model_config = example(webhook_id=WEBHOOK_ID, events=["run.completed"], enabled=True)

    url: Url | None = None
    events: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = None


class WebhookList(Paging):
    model_config = example(page=1, page_size=100)


class WebhookDeliveries(Paging):
    model_config = example(webhook_id=WEBHOOK_ID, page=1, page_size=50)

    webhook_id: UUID
    message_id: MessageId | None = None


class WebhookRedeliver(WebhookRef):
    model_config = example(webhook_id=WEBHOOK_ID, message_id=MESSAGE_ID)

    message_id: MessageId


class WebhookOut(BaseModel):
    webhook_id: UUID
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="whsec_… : shown this once")


class WebhookSecret(BaseModel):
    webhook_id: UUID
    secret: str = Field(
        description="the new secret, shown this once; the old one signs too for 24 h"
    )


class WebhookDeleted(BaseModel):
    webhook_id: UUID
    deleted: bool


class WebhookQueued(BaseModel):
    webhook_id: UUID
    message_id: str = Field(description="the webhook-id header the delivery carries")


class WebhookAttemptOut(BaseModel):
    attempt_id: int
    message_id: str
    event_type: str
    attempted_at: datetime
    status_code: int | None
    duration_ms: float
    error: str | None
    next_retry_at: datetime | None
