"""Bodies and answers of the webhook endpoints (``/v1/webhooks/*``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from api.models.common import NO_NUL, Identifier, Paging, RequestBody

Url = Annotated[str, Field(min_length=1, max_length=2000, json_schema_extra=NO_NUL)]
Description = Annotated[str, Field(max_length=500, json_schema_extra=NO_NUL)]
# Which names exist is the application's rule (application.webhooks.events.EVENT_TYPES).
EventTypes = Annotated[list[Identifier], Field(min_length=1, max_length=20)]
MessageId = Annotated[str, Field(min_length=1, max_length=100, json_schema_extra=NO_NUL)]


class WebhookCreate(RequestBody):
    url: Url
    events: EventTypes
    description: Description | None = None


class WebhookRef(RequestBody):
    webhook_id: UUID


class WebhookUpdate(WebhookRef):
    url: Url | None = None
    events: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = None


class WebhookList(Paging):
    pass


class WebhookDeliveries(Paging):
    webhook_id: UUID
    message_id: MessageId | None = None


class WebhookRedeliver(WebhookRef):
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
