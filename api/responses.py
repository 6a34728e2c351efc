"""The success envelope, {"data": ...} (+ "pagination" on lists), and the orjson response
the error answers use.

Routes return the envelope as data; FastAPI validates it against the route's
``response_model`` and renders it, so the OpenAPI document describes what is sent.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel
from starlette.responses import JSONResponse as _StarletteJSONResponse
from starlette.responses import Response

OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS


class JSONResponse(_StarletteJSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=OPTIONS)


def data(value: Any) -> dict[str, Any]:
    return {"data": value}


def page_of(items: list[Any], *, page: int, page_size: int, total: int) -> dict[str, Any]:
    return {
        "data": items,
        "pagination": {
            "page": page,
            "page_size": page_size,
            "total": total,
            "total_pages": (total + page_size - 1) // page_size,
        },
    }


def validated(model: type[BaseModel], content: dict[str, Any]) -> Response:
    """What FastAPI does with an ``async`` route's answer (validate it against the route's
    ``response_model``, render it), for a sync caller: an answer of 20,000 segments takes
    long enough to stall the event loop, so the route does this in a worker thread."""
    return Response(
        model.model_validate(content).model_dump_json(by_alias=True),
        media_type="application/json",
    )
