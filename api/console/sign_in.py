"""Sign in (the account's API key and a user id, checked as ``/v1/auth/authenticate``
checks them), sign out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.audit_fields import user_id_problem
from api.console.common import BASE, ConsoleContainer, FormRefused, SignedIn, session_form, url
from api.console.forms import FormTooLarge, read_form
from api.console.pages import redirect, render
from api.console.session import (
    SIGN_IN_COOKIE,
    SessionExpired,
    csrf_ok,
    forget,
    new_sign_in_token,
    principal_of,
    same_origin,
    set_cookie,
    start_session,
)

router = APIRouter(prefix=BASE, include_in_schema=False)

SIGN_IN_FAILED = "The API key and user id do not sign in to any account."


@router.get("")
async def home(request: Request, container: ConsoleContainer) -> Response:
    try:
        await principal_of(request, container)
    except SessionExpired:
        return redirect(request, url("/sign-in"))
    return redirect(request, url("/campaigns"))


def sign_in_page(
    request: Request, *, error: str = "", user_id: str = "", status_code: int = 200
) -> Response:
    token = new_sign_in_token()
    response = render(
        request,
        "sign_in.html",
        status_code,
        csrf=token,
        error=error,
        user_id=user_id,
        expired=request.query_params.get("expired") == "1",
    )
    set_cookie(request, response, SIGN_IN_COOKIE, token, 3600)
    return response


@router.get("/sign-in")
async def sign_in_form(request: Request) -> Response:
    return sign_in_page(request)


@router.post("/sign-in")
async def sign_in(request: Request, container: ConsoleContainer) -> Response:
    try:
        form = await read_form(request)
    except FormTooLarge:
        raise FormRefused from None
    if not same_origin(request) or not csrf_ok(
        request.cookies.get(SIGN_IN_COOKIE, ""), form.get("csrf")
    ):
        raise FormRefused
    api_key, user_id = form.get("api_key").strip(), form.get("user_id")
    # The checks of /v1/auth/authenticate, in its order.
    account = await run_in_threadpool(container.accounts.by_api_key, api_key) if api_key else None
    if account is None or not user_id.strip():
        return sign_in_page(request, error=SIGN_IN_FAILED, user_id=user_id, status_code=403)
    problem = user_id_problem(user_id)
    if problem is not None:
        return sign_in_page(request, error=problem.message, user_id=user_id, status_code=400)
    response = redirect(request, url("/campaigns"))
    start_session(request, response, container, account, user_id)
    response.delete_cookie(SIGN_IN_COOKIE, path=BASE)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, principal: SignedIn, container: ConsoleContainer) -> Response:
    await session_form(request, container)
    response = redirect(request, url("/sign-in"), ok="Signed out.")
    forget(request, response)
    return response
