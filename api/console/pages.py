"""Rendering: the Jinja2 templates shipped in this package, the console's response
headers, and the one-shot notice a redirect carries to the next page."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from api.console.session import PATH, set_cookie

# No inline script or style anywhere: the page's own files only.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Nothing of the account is kept by the browser: after sign-out (or expiry), Back
    # shows no page from its cache.
    "Cache-Control": "no-store",
}
NOTICE_COOKIE = "nudgescribe_console_notice"

templates = Environment(
    loader=PackageLoader("api.console", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def with_headers(response: Response) -> Response:
    response.headers.update(HEADERS)
    return response


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    notice = request.cookies.get(NOTICE_COOKIE)
    kind, _, text = unquote(notice).partition(":") if notice else ("", "", "")
    html = templates.get_template(template).render(
        notice={"kind": kind, "text": text} if text else None, **context
    )
    response = HTMLResponse(html, status_code=status_code)
    if notice:
        response.delete_cookie(NOTICE_COOKIE, path=PATH)
    with_headers(response)
    return response


def redirect(request: Request, url: str, *, ok: str = "", error: str = "") -> Response:
    """303 to ``url``, with a notice shown once there (a cookie, so no other site can
    put words on the page through a link)."""
    response = RedirectResponse(url, status_code=303)
    if ok or error:
        text = f"{'error' if error else 'ok'}:{error or ok}"[:1500]
        set_cookie(request, response, NOTICE_COOKIE, quote(text), 60)
    return with_headers(response)
