"""/openapi.json: every endpoint with its request body, its answer and its errors.

Bodies are parsed by ``api.body.JsonBody`` dependencies (so the error rules stay ours),
which FastAPI cannot see as bodies; this adds each one as the operation's ``requestBody``.
The headers every /v1 request needs are declared as its required header parameters, the
JWT as its one security scheme, and every answer's ``x-request-id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel

from api.audit_fields import X_IP_RULE
from api.body import JsonBody
from api.models.responses import ErrorBody
from application.idempotency import MAX_KEY_LENGTH

REF = "#/components/schemas/{model}"

ERRORS = {
    400: "Malformed body, a field of the wrong type or value, an x-ip that is not an IP "
    "address, or a rule of the campaign",
    401: "Missing required fields",
    403: "auth error / Unauthorized",
    404: "Not found (also for a malformed id or another account's object)",
    408: "The request head (or an upload's body) not received in time",
    409: "Modified concurrently, or a request with this Idempotency-Key is in flight",
    413: "Request body over the limit",
    415: "Content-Type must be application/json",
    422: "Idempotency-Key already used with another body",
    431: "A header, or the request head as a whole, over its size limit",
    500: "Internal server error",
    503: "Service unavailable (database unreachable)",
}
SECURITY = {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
# Plain required header parameters, not security schemes: a generated client then takes
# them as typed arguments of every /v1 call, authenticate's included.
V1_HEADERS = [
    {
        "name": "x-auth-context",
        "in": "header",
        "required": True,
        "description": 'A JSON object, {"api_access": true, "api_code": "<the server\'s API '
        "code>\"}: api_code must be the server's, api_access true (else 403 Unauthorized).",
        "schema": {"type": "string", "minLength": 1},
        "example": '{"api_access": true, "api_code": "your-api-code"}',
    },
    {
        "name": "x-ip",
        "in": "header",
        "required": True,
        "description": X_IP_RULE,
        "schema": {"type": "string", "minLength": 1},
        "example": "203.0.113.7",
    },
]
# The server refuses an empty or blank key (every request sending one would repeat the
# first), which FastAPI's own schema of the header does not say.
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any text naming this command once: a repeat with the same key and body "
    "answers the first answer again, with another body 422. Omit it for no key.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "\\S"},
    "example": "a4c1e7b2-retry-safe-key",
}
REQUEST_ID = {
    "x-request-id": {
        "description": "This request's id, also in the server's log lines about it",
        "schema": {"type": "string"},
    }
}


def body_of(dependant: Dependant) -> JsonBody | None:
    for sub in dependant.dependencies:
        if isinstance(sub.call, JsonBody):
            return sub.call
        found = body_of(sub)
        if found is not None:
            return found
    return None


def needs_principal(dependant: Dependant) -> bool:
    return any(
        getattr(sub.call, "__name__", "") == "get_principal" or needs_principal(sub)
        for sub in dependant.dependencies
    )


def add_schema(schemas: dict[str, Any], model: type[BaseModel]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template=REF, mode="validation")
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def media_type(schemas: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """The body's schema, with the model's example as the operation's request example."""
    content: dict[str, Any] = {"schema": add_schema(schemas, model)}
    examples = schemas[model.__name__].get("examples")
    if examples:
        content["example"] = examples[0]
    return content


def error(schemas: dict[str, Any], status: int) -> dict[str, Any]:
    reference = add_schema(schemas, ErrorBody)
    return {
        "description": ERRORS[status],
        "content": {"application/json": {"schema": reference}},
    }


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI nests them)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)


def build(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(title=app.title, version=app.version, routes=app.routes)
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    components["securitySchemes"] = SECURITY
    operations = {
        operation["operationId"]: operation
        for path in document["paths"].values()
        for operation in path.values()
    }
    for route in api_routes(app.routes):
        operation = operations.get(route.unique_id)
        if operation is not None:
            parser = body_of(route.dependant)
            if parser is not None:
                # A body may be left out when its model needs none of its fields (the
                # server reads no body as {}), as on the list endpoints.
                fields = parser.model.model_fields.values()
                operation["requestBody"] = {
                    "required": any(field.is_required() for field in fields),
                    "content": {"application/json": media_type(schemas, parser.model)},
                }
            statuses = ERRORS if route.path.startswith("/v1/") else (500, 503)
            for status in statuses:
                operation["responses"][str(status)] = error(schemas, status)
            if route.path.startswith("/v1/"):
                operation["parameters"] = [
                    *V1_HEADERS,
                    *(
                        IDEMPOTENCY_KEY if p["name"] == "Idempotency-Key" else p
                        for p in operation.get("parameters", [])
                    ),
                ]
                # authenticate is where a token is obtained: it needs none.
                operation["security"] = [{"bearer": []}] if needs_principal(route.dependant) else []
            for response in operation["responses"].values():
                response["headers"] = REQUEST_ID
    metrics = document["paths"].get("/metrics", {}).get("get")
    if metrics is not None:
        metrics["responses"]["200"] = {
            "description": "Prometheus text format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "headers": REQUEST_ID,
        }
    return document


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
