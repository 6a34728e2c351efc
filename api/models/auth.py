from __future__ import annotations

from api.models.common import Request


class AuthenticateRequest(Request):
    api_key: str
    user_id: str
    role_code: str | None = None
