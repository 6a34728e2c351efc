"""POST /v1/auth/authenticate (api key → JWT) and GET /v1/auth/reauthenticate."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from api.audit_fields import user_id_problem
from api.auth import api_context, check_access_and_ip
from api.deps import ContainerDep, PrincipalDep, body
from api.errors import auth_error
from api.models.auth import AuthenticateRequest
from api.models.responses import Envelope, TokenOut
from api.responses import data
from api.tokens import DEFAULT_TTL_SECONDS, issue_token

router = APIRouter(prefix="/v1/auth", tags=["Authentication"])


def token_answer(
    secret: str, account_id: object, user_id: str, role_code: str | None
) -> dict[str, Any]:
    token = issue_token(secret, account_id=str(account_id), user_id=user_id, role_code=role_code)
    return data(
        {
            "token": token,
            "token_type": "Bearer",
            "expires_in": DEFAULT_TTL_SECONDS,
            "account_id": account_id,
        }
    )


def api_headers(request: Request, container: ContainerDep) -> None:
    """The header checks of every request, without a JWT (this is where one is obtained)."""
    check_access_and_ip(request, api_context(request, container.api_code))


@router.post(
    "/authenticate", response_model=Envelope[TokenOut], dependencies=[Depends(api_headers)]
)
def authenticate(
    container: ContainerDep,
    payload: Annotated[AuthenticateRequest, body(AuthenticateRequest)],
) -> dict[str, Any]:
    account = container.accounts.by_api_key(payload.api_key)
    if account is None or not payload.user_id.strip():
        raise auth_error()
    problem = user_id_problem(payload.user_id)
    if problem is not None:
        raise problem
    return token_answer(
        account.jwt_secret or container.jwt_secret,
        account.account_id,
        payload.user_id,
        payload.role_code,
    )


@router.get("/reauthenticate", response_model=Envelope[TokenOut])
def reauthenticate(principal: PrincipalDep, container: ContainerDep) -> dict[str, Any]:
    account = container.account_cache.get(principal.account_id)
    assert account is not None  # authentication found it
    return token_answer(
        account.jwt_secret or container.jwt_secret,
        principal.account_id,
        principal.user_id,
        principal.role_code,
    )
