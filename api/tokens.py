"""JWTs: HS256 only, ``exp`` required; issued by /v1/auth and by ``nudgescribe token``."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import jwt

ALGORITHMS = ["HS256"]
DEFAULT_TTL_SECONDS = 3600


def issue_token(
    secret: str,
    *,
    account_id: UUID | str,
    user_id: str,
    role_code: str | None = None,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
) -> str:
    now = int(time.time())
    claims = {
        "user_id": user_id,
        "account_id": str(account_id),
        "role_code": role_code,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def unverified_claims(token: str) -> dict[str, Any]:
    """Claims read before verification, only to find which secret verifies the token."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return claims if isinstance(claims, dict) else {}


def verified_claims(token: str, secret: str) -> dict[str, Any]:
    claims = jwt.decode(token, secret, algorithms=ALGORITHMS, options={"require": ["exp"]})
    return dict(claims)
