"""The baseline server: a bare FastAPI endpoint answering, from memory, the JSON bytes of
the file named by ``BENCH_BARE_JSON`` (the real endpoint's answer), with an orjson-style
raw response. Served by uvicorn with the same settings as ``nudgescribe serve``."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Request
from starlette.responses import Response

BODY = Path(os.environ.get("BENCH_BARE_JSON", "/dev/null")).read_bytes()

app = FastAPI()


@app.post("/{path:path}")
async def answer(request: Request) -> Response:
    await request.body()
    return Response(BODY, media_type="application/json")
