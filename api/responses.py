"""orjson responses and the success envelope: {"data": ...} (+ "pagination" on lists)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse as _StarletteJSONResponse
from starlette.responses import Response

OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS


class JSONResponse(_StarletteJSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=OPTIONS)


def data(value: Any) -> JSONResponse:
    return JSONResponse({"data": value})


def page_of(items: list[Any], *, page: int, page_size: int, total: int) -> JSONResponse:
    return JSONResponse(
        {
            "data": items,
            "pagination": {
                "page": page,
                "page_size": page_size,
                "total": total,
                "total_pages": (total + page_size - 1) // page_size,
            },
        }
    )


def raw_json(body: bytes) -> Response:
    """A body already rendered as JSON (by the database, see projections.page_queries)."""
    return Response(body, media_type="application/json")
