"""Request bodies: Content-Type, size limit, strict JSON parsing, and the error rules.

A required field that is absent or null answers 401 "Missing required fields" (401, not
400: the API's documented answer for it); a malformed id of a campaign, group, message or
job answers the 404 of a missing one; any other bad value answers 400 naming the field.

Before the model sees it, the whole body is read by orjson, which refuses what is not
strict JSON (NaN, Infinity, numbers beyond a double, lone surrogates: PostgreSQL could
store none of them), and every key and string in it is checked: no NUL character
(PostgreSQL text and jsonb refuse \u0000) and at most ``MAX_STRING`` characters. Fields
with tighter limits (names, ids) declare them on their models. Unknown fields are ignored,
whatever they hold, so ``account_id`` or ``status`` in a body change nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import orjson
from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from api.errors import ApiError, bad_request, missing_fields
from application.content.errors import CustomerFieldNotFound
from application.errors import CustomerGroupNotFound, JobNotFound
from domain.errors import CampaignNotFound, MessageNotFound, NotFound

M = TypeVar("M", bound=BaseModel)

JSON_LIMIT = 1 << 20  # 1 MiB
UPLOAD_LIMIT = 32 << 20  # customer uploads and group membership lists
MAX_STRING = 10_000  # characters, any key or string anywhere in a body
UNPAIRED_SURROGATE = "unpaired surrogate escapes are not allowed"

NOT_FOUND_WHEN_MALFORMED: dict[str, type[NotFound]] = {
    "campaign_id": CampaignNotFound,
    "customer_group_id": CustomerGroupNotFound,
    "new_customer_group_id": CustomerGroupNotFound,
    "message_id": MessageNotFound,
    "message_ids": MessageNotFound,
    "job_uid": JobNotFound,
    "field_id": CustomerFieldNotFound,
}


def too_large(limit: int) -> ApiError:
    return ApiError(
        413, f"Request body is larger than {limit // (1 << 20)} MiB", "payload_too_large"
    )


class JsonBody:
    """The dependency that parses one request model; ``api.openapi`` documents it."""

    def __init__(self, model: type[BaseModel], limit: int = JSON_LIMIT) -> None:
        self.model = model
        self.limit = limit

    async def __call__(self, request: Request) -> Any:
        return self.parse(await self.read(request))

    def parse(self, raw: bytes | None) -> Any:
        if raw is None:
            return self.validate(b"{}")  # no body: every field takes its default or is missing
        strict_json(raw)
        model = self.validate(raw)  # missing fields and malformed ids answer first (401, 404)
        # The strings the model keeps: an unknown field is ignored, whatever it holds.
        check_strings(model.model_dump(exclude_unset=True))
        return model

    async def read(self, request: Request) -> bytes | None:
        """The body within the limit, of JSON's media type; None when there is none. A
        body of whitespace alone is not JSON: it is refused, as the document's optional
        request body promises an object or nothing."""
        raw = await read_limited(request, self.limit)
        if not raw:
            return None
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            raise ApiError(415, "Content-Type must be application/json", "unsupported_media_type")
        return raw

    async def read_in_time(self, request: Request, timeout: float) -> bytes | None:
        """``read``, the whole body within ``timeout`` seconds, else 408: a client that
        stops sending mid-body must not hold a turn (``api.gate``) for ever."""
        try:
            async with asyncio.timeout(timeout):
                return await self.read(request)
        except TimeoutError:
            raise ApiError(408, "Request body not received in time", "request_timeout") from None

    def validate(self, raw: bytes) -> Any:
        try:
            return self.model.model_validate_json(raw, strict=True)
        except ValidationError as error:
            raise translate(error, self.model) from None


class BodyInTurn(JsonBody):
    """The dependency of a body that may be as large as an upload (a group's membership
    lists) and is parsed whole: it reads nothing yet. Parsed, such a body takes several
    times its size in memory, so the route ``receive``s it in the upload turn
    (``api.gate``): however many such requests arrive, one body is held at a time (uvicorn
    stops reading a connection whose body is not consumed)."""

    async def __call__(self, request: Request) -> PendingBody[Any]:
        return PendingBody(self, request)


class PendingBody(Generic[M]):
    def __init__(self, parser: JsonBody, request: Request) -> None:
        self._parser = parser
        self._request = request

    async def receive(self, timeout: float) -> M:
        """The body's model: read within ``timeout`` seconds (else 408), then parsed on a
        worker thread (seconds for 32 MiB: not on the event loop)."""
        raw = await self._parser.read_in_time(self._request, timeout)
        model: M = await run_in_threadpool(self._parser.parse, raw)
        return model


def json_body(model: type[M], limit: int = JSON_LIMIT) -> Callable[[Request], Awaitable[M]]:
    return JsonBody(model, limit)


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise too_large(limit)
    return bytes(raw)


def invalid_json() -> ApiError:
    return bad_request("Request body is not valid JSON", "invalid_json")


def strict_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid_json() from None


def check_strings(parsed: Any) -> None:
    """400 naming the field that holds a NUL or an over-long string."""
    found = first_bad_string(parsed)
    if found is not None:
        where, reason = found
        field = ".".join(str(part) for part in where) or "body"
        raise bad_request(f"Invalid value for {field}: {reason}", "invalid_field")


def first_bad_string(value: Any, where: tuple[Any, ...] = ()) -> tuple[tuple[Any, ...], str] | None:
    if isinstance(value, str):
        return _string_problem(value, where)
    if isinstance(value, dict):
        for key, item in value.items():
            found = _string_problem(key, (*where, key)) or first_bad_string(item, (*where, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = first_bad_string(item, (*where, index))
            if found is not None:
                return found
    return None


def _string_problem(text: str, where: tuple[Any, ...]) -> tuple[tuple[Any, ...], str] | None:
    if "\x00" in text:
        return where, "NUL characters are not allowed"
    if len(text) > MAX_STRING:
        return where, f"strings are limited to {MAX_STRING} characters"
    if not text.isascii():
        # An unpaired surrogate escape ("\ud800"): orjson refuses it as invalid JSON,
        # the standard library's decoder (api.streamed_body) lets it through.
        try:
            text.encode()
        except UnicodeEncodeError:
            return where, UNPAIRED_SURROGATE
    return None


def translate(error: ValidationError, model: type[BaseModel]) -> Exception:
    problems = error.errors(include_url=False)
    for problem in problems:
        if problem["type"] == "json_invalid":
            return invalid_json()
        if not problem["loc"]:
            return bad_request("Request body must be a JSON object", "invalid_body")
    if any(_is_missing(problem, model) for problem in problems):
        return missing_fields()
    for problem in problems:
        not_found = NOT_FOUND_WHEN_MALFORMED.get(str(problem["loc"][0]))
        if not_found is not None and problem["type"].startswith("uuid"):
            return not_found(None)
    problem = problems[0]
    field = ".".join(str(part) for part in problem["loc"])
    return bad_request(f"Invalid value for {field}: {problem['msg']}", "invalid_field")


def _is_missing(problem: Any, model: type[BaseModel]) -> bool:
    # Only the body's own fields: a field missing inside one (ai_config.prompt) is a bad
    # value of that field, answered 400 naming it.
    loc = problem["loc"]
    if problem["type"] == "missing":
        return len(loc) == 1
    declared = model.model_fields.get(str(loc[0]))
    return (
        len(loc) == 1
        and problem.get("input", ...) is None
        and declared is not None
        and declared.is_required()
    )
