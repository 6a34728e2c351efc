from __future__ import annotations

from api.models.common import Identifier, RequestBody, Text, example


class AuthenticateRequest(RequestBody):
    model_config = example(api_key="nsk_live_3xAmPlEkEy", user_id="marketer@acme.example")

    api_key: Text
    user_id: Identifier
    role_code: Identifier | None = None
