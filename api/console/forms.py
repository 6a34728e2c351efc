"""Form bodies (``application/x-www-form-urlencoded``), read within a size limit.

Forms are parsed here rather than by a multipart library: the console sends only
urlencoded forms, and a bound on the body is all they need beyond the standard parser.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request

# An edited message (10,000 characters, percent-encoded up to 9 bytes each) fits, and so
# do the ids of a whole page of messages.
FORM_LIMIT = 128 * 1024


class FormTooLarge(Exception):
    pass


class Form:
    def __init__(self, fields: dict[str, list[str]]) -> None:
        self.fields = fields

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0] if values else default

    def all(self, name: str) -> list[str]:
        return self.fields.get(name, [])


async def read_form(request: Request) -> Form:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            raise FormTooLarge
    text = bytes(body).decode("utf-8", errors="replace")
    return Form(parse_qs(text, keep_blank_values=True, max_num_fields=1000))
