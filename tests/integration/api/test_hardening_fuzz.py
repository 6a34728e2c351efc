"""Schemathesis against /openapi.json: every operation, every default check, no 5xx.

Each operation gets ``MAX_EXAMPLES`` schema-valid and ``MAX_EXAMPLES`` schema-invalid
cases, so the run stays bounded on both databases. A failure names the operation and the
curl command that reproduces it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from api.app import create_app
from tests.api_client import Api

pytestmark = pytest.mark.integration

MAX_EXAMPLES = 20

# A schema-valid body can still break a rule of the campaign, which the API answers
# with 400 ("Only Published campaigns can be rerun", a field name already taken);
# every other default check keeps its defaults.
EXPECTED_STATUSES = ["2xx", "400", "401", "403", "404", "409"]


def config(auth: dict[str, str]) -> SchemathesisConfig:
    """The account's JWT as schemathesis's own bearer auth, so its auth checks know it is
    given (not generated) and can take it away; the other headers as its fixed headers."""
    headers = {k: v for k, v in auth.items() if k != "authorization"}
    token = auth["authorization"].removeprefix("Bearer ")
    return SchemathesisConfig.from_dict(
        {
            "headers": headers,
            "auth": {"openapi": {"bearer": {"bearer": token}}},
            "checks": {"positive_data_acceptance": {"expected-statuses": EXPECTED_STATUSES}},
            # Upload rows are checked one by one: a row the schema refuses is answered in
            # `rejected` with a 200, as the schema's description of `customers` says.
            "operations": [
                {
                    "include-path": "/v1/customers/upload",
                    "checks": {"negative_data_rejection": {"enabled": False}},
                }
            ],
        }
    )


@pytest.fixture(scope="module")
def fuzzed(http: TestClient, new_api: Callable[..., Api]) -> tuple[Any, dict[str, str]]:
    api = new_api()
    api.define_fields("plan", "region")
    # An app of its own over the package app's container: schemathesis runs the lifespan of
    # the app it is given (and keeps it to the end of the process), which must not build,
    # replace or close the container the package's other tests use.
    app = create_app(container=http.app.state.container)  # type: ignore[attr-defined]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config(api.headers()))
    return schema, api.headers()


def run_operation(
    operation: Any, mode: GenerationMode, headers: dict[str, str], statuses: Counter[int]
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    def fuzz(case: Any) -> None:
        response = case.call_and_validate()
        statuses[response.status_code] += 1

    try:
        fuzz()
    except Unsatisfiable:
        # Nothing to make invalid (no body, no parameter): GET /health, /metrics...
        assert mode == GenerationMode.NEGATIVE


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_passes_every_default_check(
    fuzzed: tuple[Any, dict[str, str]], mode: GenerationMode
) -> None:
    schema, headers = fuzzed
    statuses: Counter[int] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]

    for operation in operations:
        run_operation(operation, mode, headers, statuses)

    print(f"schemathesis {mode}: {len(operations)} operations, statuses {dict(statuses)}")
    assert not [status for status in statuses if status >= 500]
