"""Secrets and signatures to the Standard Webhooks spec, through ``standardwebhooks``.

A secret is ``whsec_`` + base64 of 24 random bytes, shown once at create and rotation.
After a rotation the previous secret signs beside the new one until it expires, so a
receiver that still holds it keeps verifying: the header then carries two signatures.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_BYTES = 24


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature_header(
    signing_secrets: Iterable[str], message_id: str, at: datetime, body: str
) -> str:
    """``webhook-signature``: ``v1,<sig>`` per secret, space-separated."""
    return " ".join(Webhook(secret).sign(message_id, at, body) for secret in signing_secrets)


def signed_headers(
    signing_secrets: Iterable[str], message_id: str, at: datetime, body: str
) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature_header(signing_secrets, message_id, at, body),
        "content-type": "application/json",
    }
