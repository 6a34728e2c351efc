"""Errors of the webhooks; the API maps their families like the domain's (404, 400)."""

from __future__ import annotations

from domain.errors import NotFound, RuleViolation


class WebhookNotFound(NotFound):
    message = "Webhook not found"


class DeliveryNotFound(NotFound):
    message = "Webhook delivery not found"


class InvalidWebhook(RuleViolation):
    """A URL or event list the webhooks refuse (the message says why)."""
