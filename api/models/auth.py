from __future__ import annotations

from api.models.common import Identifier, RequestBody, Text


class AuthenticateRequest(RequestBody):
    api_key: Text
    user_id: Identifier
    role_code: Identifier | None = None
