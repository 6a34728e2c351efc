"""/openapi.json declares what a generated client must send and may read: the headers of
every /v1 request as typed parameters, and the response headers of every answer."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }


def header_parameters(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}


def test_every_v1_operation_declares_its_headers_as_required_parameters(
    http: TestClient,
) -> None:
    document = http.get("/openapi.json").json()

    for name, operation in operations(document).items():
        if " /v1/" not in name:
            continue
        headers = header_parameters(operation)
        for header in ("x-auth-context", "x-ip"):
            assert headers[header]["required"] is True, (name, header)
            assert headers[header]["schema"]["type"] == "string", (name, header)
        assert "api_code" in headers["x-auth-context"]["description"]
        assert "api_access" in headers["x-auth-context"]["example"]


def test_authenticate_needs_no_jwt_and_the_others_a_bearer_token(http: TestClient) -> None:
    found = operations(http.get("/openapi.json").json())

    assert found["POST /v1/auth/authenticate"]["security"] == []
    assert found["POST /v1/campaign/rerun/initiate"]["security"] == [{"bearer": []}]


def test_every_answer_declares_its_x_request_id(http: TestClient) -> None:
    found = operations(http.get("/openapi.json").json())

    for name, operation in found.items():
        for status, response in operation["responses"].items():
            assert "x-request-id" in response.get("headers", {}), (name, status)


def keywords(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for value in node.values() for k in keywords(value)}
    if isinstance(node, list):
        return {k for value in node for k in keywords(value)}
    return set()


def test_bounds_are_json_schema_keywords(http: TestClient) -> None:
    schemas = http.get("/openapi.json").json()["components"]["schemas"]

    # pydantic writes a bound of an optional field as a bare "ge", which no validator reads
    assert keywords(schemas) & {"ge", "le", "gt", "lt"} == set()
