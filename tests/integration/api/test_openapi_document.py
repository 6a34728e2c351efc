"""/openapi.json declares what a generated client must send and may read: the headers of
every /v1 request as typed parameters, every body typed to its leaves with an example the
server accepts, and the response headers of every answer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from api.openapi import api_routes, body_of

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


def request_schemas(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every schema a request body reaches, by name (following $refs)."""
    schemas = document["components"]["schemas"]
    found: dict[str, dict[str, Any]] = {}

    def follow(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                name = ref.rsplit("/", 1)[1]
                if name not in found:
                    found[name] = schemas[name]
                    follow(schemas[name])
            for value in node.values():
                follow(value)
        elif isinstance(node, list):
            for value in node:
                follow(value)

    for operation in operations(document).values():
        follow(operation.get("requestBody", {}))
    return found


def untyped(node: Any, where: str) -> list[str]:
    """Places in a schema that accept any JSON at all (``{}``, or no type of any kind)."""
    if not isinstance(node, dict):
        return []
    kinds = {"type", "$ref", "anyOf", "oneOf", "allOf", "const", "enum"}
    found = [] if kinds & set(node) else [where]
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            found += untyped(node[key], f"{where}.{key}")
    for name, child in node.get("properties", {}).items():
        found += untyped(child, f"{where}.{name}")
    for key in ("anyOf", "oneOf"):
        for index, child in enumerate(node.get(key, [])):
            found += untyped(child, f"{where}.{key}[{index}]")
    return found


def test_every_request_body_is_typed_all_the_way_down(http: TestClient) -> None:
    document = http.get("/openapi.json").json()

    problems = [
        place
        for name, schema in request_schemas(document).items()
        for place in untyped(schema, name)
    ]

    assert problems == []
    ai_config = document["components"]["schemas"]["CampaignCreate"]["properties"]["ai_config"]
    assert [option["$ref"].rsplit("/", 1)[1] for option in ai_config["oneOf"]] == [
        "TemplateConfig",
        "OpenAIConfig",
    ]


def test_every_request_example_is_valid_by_the_document_and_by_the_server(
    http: TestClient,
) -> None:
    """The example of each operation's body, checked by JSON Schema against the document
    and parsed by the route's own body parser (which raises on a body it refuses)."""
    document = http.get("/openapi.json").json()
    parsers = {
        f"POST {route.path}": body_of(route.dependant)
        for route in api_routes(http.app.routes)  # type: ignore[attr-defined]
    }

    checked = 0
    for name, operation in operations(document).items():
        body = operation.get("requestBody")
        if body is None:
            continue
        content = body["content"]["application/json"]
        example = content["example"]
        # The document's components beside the schema: its "#/components/..." refs resolve.
        schema = {**content["schema"], "components": document["components"]}
        Draft202012Validator(schema).validate(example)
        parser = parsers[name]
        assert parser is not None
        parser.validate(json.dumps(example).encode())
        checked += 1

    assert checked >= 25


def test_the_idempotency_key_declares_that_it_may_not_be_blank(http: TestClient) -> None:
    found = operations(http.get("/openapi.json").json())

    for name in ("POST /v1/campaign/create", "POST /v1/campaign/rerun/initiate"):
        schema = header_parameters(found[name])["Idempotency-Key"]["schema"]
        assert schema["minLength"] == 1, name
        assert schema["pattern"] == "\\S", name
