"""The console's session: the same signed token ``/v1/auth/authenticate`` issues, kept in
a cookie, and the CSRF token every state-changing form carries.

The cookie is ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's
page sends it) and ``Secure`` unless the console is reached on loopback (plain HTTP
there is the developer's own machine). It expires with its token; each request verifies
the token as the API verifies a bearer token (``api.auth.verify_jwt``: the account must
still exist, the signature must verify with the account's secret or the server's).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.audit_fields import client_ip
from api.auth import AccountNotCached, Principal, verify_jwt
from api.container import Container
from api.errors import ApiError
from api.tokens import DEFAULT_TTL_SECONDS, issue_token
from application.content.accounts import Account

SESSION_COOKIE = "nudgescribe_console"
# Before sign-in there is no session to bind a CSRF token to: the sign-in form's token
# is a random value also set as a cookie (double submit).
SIGN_IN_COOKIE = "nudgescribe_console_signin"
PATH = "/console"


class SessionExpired(Exception):
    """No session, or one whose token no longer verifies: back to sign-in."""


def is_loopback(request: Request) -> bool:
    host = (request.url.hostname or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PATH,
        httponly=True,
        secure=not is_loopback(request),
        samesite="strict",
    )


def forget(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path=PATH, httponly=True, secure=not is_loopback(request), samesite="strict"
    )


def start_session(
    request: Request, response: Response, container: Container, account: Account, user_id: str
) -> None:
    token = issue_token(
        account.jwt_secret or container.jwt_secret,
        account_id=account.account_id,
        user_id=user_id,
        ttl_seconds=DEFAULT_TTL_SECONDS,
    )
    set_cookie(request, response, SESSION_COOKIE, token, DEFAULT_TTL_SECONDS)


def request_ip(request: Request) -> str:
    """Where the browser's request came from: its socket's address, as the log stores
    addresses (``client_ip``). The console trusts no forwarding header."""
    host = request.client.host if request.client else ""
    try:
        return client_ip(host)
    except ApiError:
        return "0.0.0.0"  # a test client without a socket


async def principal_of(request: Request, container: Container) -> Principal:
    """The signed-in user, checked as the API checks a bearer token; ``SessionExpired``
    when there is none."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise SessionExpired
    cache, secret, tokens = container.account_cache, container.jwt_secret, container.verified_tokens
    try:
        try:
            account, claims = verify_jwt(token, cache.cached, secret, tokens)
        except AccountNotCached as miss:
            found = await run_in_threadpool(cache.get, miss.account_id)
            account, claims = verify_jwt(token, lambda _: found, secret, tokens)
    except ApiError:
        raise SessionExpired from None
    role_code = claims.get("role_code")
    return Principal(
        account.account_id,
        claims["user_id"],
        role_code if isinstance(role_code, str) else None,
        request_ip(request),
    )


def csrf_token(request: Request, container: Container) -> str:
    """Bound to this session's token: a form from one session is refused in another."""
    session = request.cookies.get(SESSION_COOKIE, "")
    key = container.jwt_secret.encode()
    return hmac.new(key, b"console-csrf\x00" + session.encode(), hashlib.sha256).hexdigest()


def new_sign_in_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(expected: str, sent: str | None) -> bool:
    return bool(expected) and sent is not None and hmac.compare_digest(expected, sent)


def same_origin(request: Request) -> bool:
    """A browser names the page a form was sent from; another origin's is refused."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin == own
