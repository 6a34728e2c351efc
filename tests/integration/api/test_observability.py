"""/metrics in Prometheus format and JSON logs carrying the request id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.observability import JsonFormatter
from tests.api_client import Api

pytestmark = pytest.mark.integration


def samples(http: TestClient) -> dict[str, list[tuple[dict[str, str], float]]]:
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def value(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(v for got, v in found.get(name, []) if labels.items() <= got.items())


def test_metrics_cover_requests_events_projections_jobs_generators_and_errors(
    http: TestClient, api: Api
) -> None:
    api.define_fields("plan", "region")
    api.published_campaign("metrics")
    api.post("/v1/campaign/get", {"campaign_id": "3b0c1f4e-0000-4000-8000-000000000000"})

    found = samples(http)

    get = {"method": "POST", "route": "/v1/campaign/get"}
    assert value(found, "nudgescribe_http_request_duration_seconds_count", **get, status="200") > 0
    assert value(found, "nudgescribe_http_requests_total", **get, status="404") >= 1
    assert value(found, "nudgescribe_http_errors_total", code="campaign_not_found") >= 1
    assert value(found, "nudgescribe_events_appended_total", type="RunStarted") >= 1
    assert value(found, "nudgescribe_events_appended_total", type="CampaignPublished") >= 1
    assert value(found, "nudgescribe_generator_calls_total", generator="template") >= 2
    assert value(found, "nudgescribe_generator_duration_seconds_count", generator="template") >= 2
    assert "# TYPE nudgescribe_generator_errors_total counter" in http.get("/metrics").text
    for projection in ("campaign_runs", "jobs"):
        assert value(found, "nudgescribe_projection_position", projection=projection) > 0
        assert projection in {
            got["projection"] for got, _ in found["nudgescribe_projection_lag_events"]
        }
        assert projection in {
            got["projection"] for got, _ in found["nudgescribe_projection_lag_seconds"]
        }
    assert value(found, "nudgescribe_jobs", phase="Completed") >= 1
    assert value(found, "nudgescribe_jobs", phase="Failed") >= 0
    assert value(found, "nudgescribe_database_up") == 1


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("nudgescribe.access")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_each_request_logs_one_json_line_with_its_request_id(
    http: TestClient, api: Api, json_log: io.StringIO
) -> None:
    response = api.post("/v1/campaign/get", {"campaign_id": "3b0c1f4e-0000-4000-8000-000000000000"})

    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert len(lines) == 1
    entry = lines[0]
    assert entry["request_id"] == response.headers["x-request-id"]
    assert entry["level"] == "INFO"
    assert entry["logger"] == "nudgescribe.access"
    assert entry["message"] == "POST /v1/campaign/get 404"
    assert entry["route"] == "/v1/campaign/get"
    assert entry["status"] == 404
    assert {"time", "correlation_id", "duration_ms"} <= set(entry)


def test_a_long_error_body_is_counted_under_its_own_code(http: TestClient, api: Api) -> None:
    before = value(samples(http), "nudgescribe_http_errors_total", code="invalid_field")
    long_key = "k" * 10_001  # named in the message: the body is over 10 kB

    row = {"external_id": "a", "fields": {long_key: 1}}

    answer = api.post("/v1/customers/upload", {"customers": [row]})

    assert (answer.status_code, answer.json()["code"]) == (400, "invalid_field")
    assert len(answer.content) > 10_000
    after = value(samples(http), "nudgescribe_http_errors_total", code="invalid_field")
    assert after == before + 1
