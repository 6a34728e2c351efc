from __future__ import annotations

from api.models.common import RequestBody


class AuthenticateRequest(RequestBody):
    api_key: str
    user_id: str
    role_code: str | None = None
