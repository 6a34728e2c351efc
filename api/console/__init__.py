"""The review console at ``/console``: server-rendered pages (Jinja2) over the same use
cases, account checks and who/where metadata as the API, with a little plain JavaScript
for the live progress bar. Templates and static files ship in this package."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from api.console import audit, campaign, campaigns, rerun, sign_in
from api.console.common import BASE, FormRefused, url
from api.console.pages import redirect, with_headers
from api.console.session import SessionExpired, forget
from api.responses import JSONResponse

STATIC = Path(__file__).parent / "static"


def install_console(app: FastAPI) -> None:
    for module in (sign_in, campaigns, campaign, rerun, audit):
        app.include_router(module.router)
    app.mount(f"{BASE}/static", StaticFiles(directory=STATIC), name="console-static")

    async def on_expired(request: Request, exc: Exception) -> Response:
        """Back to sign-in, the cookie forgotten: nothing of the account stays on screen."""
        if request.url.path.endswith(".json"):
            response: Response = JSONResponse({"message": "Session expired"}, status_code=401)
        else:
            response = redirect(request, url("/sign-in", expired=1))
        forget(request, response)
        return with_headers(response)

    async def on_refused(request: Request, exc: Exception) -> Response:
        answer = {"message": "Form refused: reload the page and try again", "code": "csrf"}
        return with_headers(JSONResponse(answer, status_code=403))

    app.add_exception_handler(SessionExpired, on_expired)
    app.add_exception_handler(FormRefused, on_refused)
