"""Authentication, in a fixed order (the first failure answers): api code, JWT, api_access,
x-ip, the account."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jwt
import orjson
from fastapi import Request

from api.audit_fields import client_ip, user_id_problem
from api.errors import auth_error, unauthorized
from api.tokens import unverified_claims, verified_claims
from application.content.accounts import Account, Accounts
from application.metadata import CommandContext


@dataclass(frozen=True)
class Principal:
    account_id: UUID
    user_id: str
    role_code: str | None
    ip: str

    def context(self) -> CommandContext:
        return CommandContext.for_request(
            user_id=self.user_id, account_id=self.account_id, ip=self.ip
        )


class AccountNotCached(Exception):
    """Authentication needs an account that is not in memory: the caller looks it up off
    the event loop (``AccountCache.get``) and authenticates again."""

    def __init__(self, account_id: UUID) -> None:
        super().__init__(account_id)
        self.account_id = account_id


Lookup = Callable[[UUID], Account | None]


class AccountCache:
    """Found accounts, kept in memory for ``ttl`` seconds.

    An account never changes once created, but it may be deleted: its tokens must stop
    working within ``ttl``, so an entry is looked up again once it is that old.
    """

    def __init__(self, accounts: Accounts, ttl: float, limit: int = 10_000) -> None:
        self.accounts = accounts
        self.ttl = ttl
        self.limit = limit
        self._found: dict[UUID, tuple[float, Account]] = {}

    def cached(self, account_id: UUID) -> Account:
        """The account from memory only; ``AccountNotCached`` when it must be looked up."""
        found = self._found.get(account_id)
        if found is None or time.monotonic() - found[0] >= self.ttl:
            raise AccountNotCached(account_id)
        return found[1]

    def get(self, account_id: UUID) -> Account | None:
        try:
            return self.cached(account_id)
        except AccountNotCached:
            pass
        account = self.accounts.get(account_id)
        if account is None:
            self._found.pop(account_id, None)
            return None
        if len(self._found) >= self.limit:
            self._found.clear()
        self._found[account_id] = (time.monotonic(), account)
        return account


class VerifiedTokens:
    """Tokens that passed ``verify_jwt``, kept until their ``exp``, so a client sending
    the same token again is not decoded and HMAC-checked twice per request.

    Nothing that decided a token's verdict can change while it is kept: the token's bytes
    are the key, accounts and their secrets never change once created, the secret it
    verified with is stored and compared on every hit, and ``nbf``/``iat``, once passed,
    stay passed. Only ``exp`` moves, so every hit is checked against the clock (PyJWT
    rejects a token once ``exp <= now``), and an account may be deleted, so every hit
    looks its account up again (``verify_jwt``).
    """

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._valid: dict[str, tuple[str, int, Account, dict[str, Any]]] = {}

    def get(self, token: str, server_secret: str) -> tuple[Account, dict[str, Any]] | None:
        found = self._valid.get(token)
        if found is None:
            return None
        secret, expires, account, claims = found
        if expires <= time.time() or secret != (account.jwt_secret or server_secret):
            self._valid.pop(token, None)
            return None
        return account, claims

    def add(self, token: str, server_secret: str, account: Account, claims: dict[str, Any]) -> None:
        if len(self._valid) >= self.limit:
            self._valid.clear()
        secret = account.jwt_secret or server_secret
        self._valid[token] = (secret, int(claims["exp"]), account, claims)


def api_context(request: Request, api_code: str) -> dict[str, Any]:
    """Step 1: x-auth-context is a JSON object whose api_code matches (constant time)."""
    try:
        context = orjson.loads(request.headers.get("x-auth-context", ""))
    except orjson.JSONDecodeError:
        raise unauthorized() from None
    code = context.get("api_code") if isinstance(context, dict) else None
    if not isinstance(code, str) or not hmac.compare_digest(code.encode(), api_code.encode()):
        raise unauthorized()
    assert isinstance(context, dict)
    return context


def check_access_and_ip(request: Request, context: dict[str, Any]) -> str:
    """Steps 3 and after: api_access must be true, and x-ip an address (its normal form)."""
    if context.get("api_access") is not True:
        raise unauthorized()
    ip = request.headers.get("x-ip", "").strip()
    if not ip:
        raise auth_error()
    return client_ip(ip)


def bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise auth_error()
    return token.strip()


def verify_jwt(
    token: str, lookup: Lookup, server_secret: str, tokens: VerifiedTokens | None = None
) -> tuple[Account, dict[str, Any]]:
    """Step 2: the signature must verify with the account's own secret, else the server's."""
    known = tokens.get(token, server_secret) if tokens is not None else None
    if known is not None:
        if lookup(known[0].account_id) is None:  # deleted since
            raise auth_error()
        return known
    try:
        account_id = UUID(str(unverified_claims(token).get("account_id")))
        account = lookup(account_id)
        if account is None:
            raise auth_error()
        claims = verified_claims(token, account.jwt_secret or server_secret)
    except (jwt.PyJWTError, ValueError):
        raise auth_error() from None
    user_id = claims.get("user_id")
    if (
        not isinstance(user_id, str)
        or not user_id
        or user_id_problem(user_id) is not None
        or claims.get("account_id") != str(account_id)
    ):
        raise auth_error()
    if tokens is not None:
        tokens.add(token, server_secret, account, claims)
    return account, claims


def authenticate_request(
    request: Request,
    lookup: Lookup,
    api_code: str,
    server_secret: str,
    tokens: VerifiedTokens | None = None,
) -> Principal:
    """``lookup`` finds the account the JWT names (``AccountCache.get``, or ``.cached``)."""
    context = api_context(request, api_code)
    account, claims = verify_jwt(bearer_token(request), lookup, server_secret, tokens)
    ip = check_access_and_ip(request, context)
    role_code = claims.get("role_code")
    return Principal(
        account.account_id, claims["user_id"], role_code if isinstance(role_code, str) else None, ip
    )
