"""JSON log lines and generator instrumentation, without a database."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Mapping
from typing import Any

import pytest

from api.observability import JsonFormatter, correlation_scope, logging_config, request_scope
from application.generators import Generated, GenerationFailed, InstrumentedGenerator
from application.metrics import REGISTRY, count_appended

pytestmark = pytest.mark.unit


def log_line(logger: logging.Logger, message: str, *args: object, **extra: Any) -> dict[str, Any]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        logger.warning(message, *args, extra=extra)
    finally:
        logger.removeHandler(handler)
    (line,) = stream.getvalue().splitlines()
    result: dict[str, Any] = json.loads(line)
    return result


def test_a_log_line_is_one_json_object_with_request_and_correlation_ids() -> None:
    with request_scope("req-1"), correlation_scope("corr-1"):
        entry = log_line(logging.getLogger("test.json"), "hello %s", "there", route="/x")

    assert entry["message"] == "hello there"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "test.json"
    assert entry["request_id"] == "req-1"
    assert entry["correlation_id"] == "corr-1"
    assert entry["route"] == "/x"
    assert entry["time"].endswith("+00:00")


def test_outside_a_request_the_ids_are_null() -> None:
    entry = log_line(logging.getLogger("test.json.outside"), "idle")

    assert entry["request_id"] is None
    assert entry["correlation_id"] is None


def test_exceptions_are_kept_inside_the_json_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.json.exc")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    finally:
        logger.removeHandler(handler)

    (line,) = stream.getvalue().splitlines()
    assert "ValueError: boom" in json.loads(line)["exception"]


def test_logging_config_routes_uvicorn_to_the_json_handler() -> None:
    config = logging_config("INFO")

    assert config["formatters"]["json"]["()"] is JsonFormatter
    assert config["root"] == {"handlers": ["json"], "level": "INFO"}
    assert config["loggers"]["uvicorn.access"] == {"handlers": [], "propagate": True}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class FakeGenerator:
    name = "fake"

    def __init__(self, fail: bool) -> None:
        self.fail = fail

    async def generate(self, ai_config: Mapping[str, Any], values: Mapping[str, Any]) -> Generated:
        if self.fail:
            raise GenerationFailed("no")
        return Generated("hi", self.name, None, "d")

    async def aclose(self) -> None:
        return None


def test_instrumented_generator_counts_calls_errors_and_latency() -> None:
    calls = sample("nudgescribe_generator_calls_total", generator="fake")
    errors = sample("nudgescribe_generator_errors_total", generator="fake")
    timed = sample("nudgescribe_generator_duration_seconds_count", generator="fake")

    async def run() -> None:
        assert (await InstrumentedGenerator(FakeGenerator(False)).generate({}, {})).content == "hi"
        with pytest.raises(GenerationFailed):
            await InstrumentedGenerator(FakeGenerator(True)).generate({}, {})

    asyncio.run(run())

    assert sample("nudgescribe_generator_calls_total", generator="fake") == calls + 2
    assert sample("nudgescribe_generator_errors_total", generator="fake") == errors + 1
    assert sample("nudgescribe_generator_duration_seconds_count", generator="fake") == timed + 2


def test_appended_events_are_counted_by_type() -> None:
    before = sample("nudgescribe_events_appended_total", type="UnitTestEvent")

    count_appended(["domain.campaign:Campaign.UnitTestEvent"] * 3)

    assert sample("nudgescribe_events_appended_total", type="UnitTestEvent") == before + 3
