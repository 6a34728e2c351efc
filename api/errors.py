"""The one place that turns errors into status codes and the API's exact messages (clients
match on them, so each is spelled once, here)."""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from api.responses import JSONResponse
from application.errors import ConcurrentModification
from application.idempotency import IdempotencyKeyInFlight, IdempotencyKeyReused
from domain.errors import DomainError, NotFound

MISSING_FIELDS = "Missing required fields"
AUTH_ERROR = "auth error"
UNAUTHORIZED = "Unauthorized"
INTERNAL = "Internal server error"
UNAVAILABLE = "Service unavailable"


class ApiError(Exception):
    """An error the API itself decides (auth, body shape); carries status and message."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def missing_fields() -> ApiError:
    return ApiError(401, MISSING_FIELDS, "missing_required_fields")


def auth_error() -> ApiError:
    return ApiError(403, AUTH_ERROR, "auth_error")


def unauthorized() -> ApiError:
    return ApiError(403, UNAUTHORIZED, "unauthorized")


def bad_request(message: str, code: str = "bad_request") -> ApiError:
    return ApiError(400, message, code)


def error_response(status: int, message: str, code: str) -> JSONResponse:
    return JSONResponse({"message": message, "code": code}, status_code=status)


def answer_error(request: Request, status: int, message: str, code: str) -> JSONResponse:
    """The error answer, its code also left in the request's state for the error metric
    (``api.middleware``), which then needs no parse of a body of any length."""
    request.state.error_code = code
    return error_response(status, message, code)


def error_code_of(scope: Scope) -> str:
    """The code an error handler answered with; "unknown" for an error answer no handler
    of ours wrote."""
    code = scope.get("state", {}).get("error_code")
    return code if isinstance(code, str) else "unknown"


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def domain_status(exc: DomainError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, ConcurrentModification | IdempotencyKeyInFlight):
        return 409
    if isinstance(exc, IdempotencyKeyReused):
        return 422
    return 400  # RuleViolation and every other rule of the campaign or the content


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return answer_error(request, exc.status, exc.message, exc.code)

    async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        code = snake_case(type(exc).__name__)
        return answer_error(request, domain_status(exc), exc.message, code)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        messages = {404: "Not found", 405: "Method not allowed"}
        message = messages.get(exc.status_code, str(exc.detail))
        code = re.sub(r"\W+", "_", message.lower()).strip("_")  # "Not found": not_found
        response = answer_error(request, exc.status_code, message, code)
        response.headers.update(exc.headers or {})  # 405 keeps its Allow header
        return response

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        # Only query/path parameters reach here; bodies are parsed by api.body.
        return answer_error(request, 400, "Invalid request parameters", "bad_request")

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
