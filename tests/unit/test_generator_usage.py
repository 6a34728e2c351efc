"""What a generator reports besides the message: the provider's token usage and the
call's latency (recorded on ``MessageGenerated`` from version 2)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from application.generators import OpenAIChatGenerator, TemplateGenerator
from application.generators.base import Generated, Generator
from application.generators.openai_chat import token_usage
from tests.fakes.chat_server import API_KEY, chat_server

pytestmark = pytest.mark.unit

VALUES = {"plan": "gold"}


def run(generator: Generator, config: dict[str, Any]) -> Generated:
    async def generate() -> Generated:
        try:
            return await generator.generate(config, VALUES)
        finally:
            await generator.aclose()

    return asyncio.run(generate())


def test_openai_returns_the_providers_usage_and_the_calls_latency() -> None:
    with chat_server() as server:
        generated = run(
            OpenAIChatGenerator(server.url, API_KEY), {"prompt": "Write to a {{plan}} member."}
        )
    # The loopback server counts words: 5 in the prompt, the answer's in the content.
    completion = len(generated.content.split())
    assert generated.usage == {
        "prompt_tokens": 5,
        "completion_tokens": completion,
        "total_tokens": 5 + completion,
    }
    assert generated.latency_ms is not None
    assert generated.latency_ms > 0


def test_the_template_generator_calls_no_provider_and_reports_neither() -> None:
    generated = run(TemplateGenerator(), {"template": "Hi {{plan}}"})
    assert (generated.usage, generated.latency_ms) == (None, None)


@pytest.mark.parametrize(
    ("answer", "usage"),
    [
        ({}, None),
        ({"usage": None}, None),
        ({"usage": "12"}, None),
        (
            {"usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7, "x": 1}},
            {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        ),
        (
            {"usage": {"prompt_tokens": -1, "completion_tokens": True, "total_tokens": 2.0}},
            {"prompt_tokens": None, "completion_tokens": None, "total_tokens": None},
        ),
        (
            {"usage": {"total_tokens": 9}},
            {"prompt_tokens": None, "completion_tokens": None, "total_tokens": 9},
        ),
    ],
)
def test_token_usage_keeps_the_three_counts_and_only_counts(
    answer: dict[str, Any], usage: dict[str, int | None] | None
) -> None:
    assert token_usage(answer) == usage
