"""Request bodies: Content-Type, size limit, strict JSON parsing, and the error rules.

A required field that is absent or null answers 401 "Missing required fields" (the
published page's quirk); a malformed id of a campaign, group, message or job answers the
404 of a missing one; any other bad value answers 400 naming the field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from api.errors import ApiError, bad_request, missing_fields
from application.content.errors import CustomerFieldNotFound
from application.errors import CustomerGroupNotFound, JobNotFound
from domain.errors import CampaignNotFound, MessageNotFound, NotFound

M = TypeVar("M", bound=BaseModel)

JSON_LIMIT = 1 << 20  # 1 MiB
UPLOAD_LIMIT = 32 << 20  # customer uploads and group membership lists

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


def json_body(model: type[M], limit: int = JSON_LIMIT) -> Callable[[Request], Awaitable[M]]:
    async def parse(request: Request) -> M:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise too_large(limit)
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > limit:
                raise too_large(limit)
        if not raw.strip():
            raw = bytearray(b"{}")  # no body: every field takes its default or is missing
        else:
            media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type != "application/json":
                raise ApiError(
                    415, "Content-Type must be application/json", "unsupported_media_type"
                )
        try:
            return model.model_validate_json(bytes(raw), strict=True)
        except ValidationError as error:
            raise translate(error, model) from None

    return parse


def translate(error: ValidationError, model: type[BaseModel]) -> Exception:
    problems = error.errors(include_url=False)
    for problem in problems:
        if problem["type"] == "json_invalid":
            return bad_request("Request body is not valid JSON", "invalid_json")
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
    if problem["type"] == "missing":
        return True
    loc = problem["loc"]
    declared = model.model_fields.get(str(loc[0]))
    return (
        len(loc) == 1
        and problem.get("input", ...) is None
        and declared is not None
        and declared.is_required()
    )
