"""The generator port: the template generator and the openai adapter (against a real
chat-completions server on loopback), held to one contract."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator

import pytest

from application.generators import (
    GenerationFailed,
    Generator,
    OpenAIChatGenerator,
    ProviderOutage,
    SegmentRefused,
    TemplateGenerator,
    build_generators,
    configured_providers,
    render,
    template_refusal,
)
from application.settings import Settings
from domain.segments import Segment
from tests.fakes.chat_server import API_KEY, ChatServer, chat_server

pytestmark = pytest.mark.unit

VALUES = {"plan": "gold", "region": "EU"}
TEMPLATE_CONFIG = {"provider": "template", "template": "Hi {{plan}} member in {{ region }}!"}
OPENAI_CONFIG = {
    "provider": "openai",
    "model": "test-model",
    "system_prompt": "You write short marketing messages.",
    "prompt": "Write to a {{plan}} customer in {{region}}.",
    "temperature": 0.2,
}


def openai_generator(server: ChatServer, **options: object) -> OpenAIChatGenerator:
    options = {"initial_backoff": 0.01, "max_backoff": 0.05, "timeout": 2.0, **options}
    return OpenAIChatGenerator(server.url, API_KEY, **options)  # type: ignore[arg-type]


async def generate(generator: Generator, config: dict[str, object], values: dict[str, object]):  # type: ignore[no-untyped-def]
    try:
        return await generator.generate(config, values)
    finally:
        await generator.aclose()


def run(generator: Generator, config: dict[str, object], values: dict[str, object] = VALUES):  # type: ignore[no-untyped-def]
    return asyncio.run(generate(generator, config, values))


# ---------------------------------------------------------------- rendering
def test_render_replaces_variables_with_segment_values() -> None:
    assert render("Hi {{plan}} in {{ region }}", VALUES) == "Hi gold in EU"


def test_render_writes_null_as_nothing_and_booleans_as_json() -> None:
    assert render("[{{a}}|{{b}}|{{c}}]", {"a": None, "b": True, "c": 3}) == "[|true|3]"


def test_render_normalises_variable_names_like_the_campaign_does() -> None:
    assert render("{{ plan }}", {"plan": "gold"}) == "gold"


# ---------------------------------------------------------------- contract
@pytest.fixture
def server() -> Iterator[ChatServer]:
    with chat_server() as running:
        yield running


@pytest.fixture(params=["template", "openai"])
def generator_and_config(request, server):  # type: ignore[no-untyped-def]
    if request.param == "template":
        return TemplateGenerator(), TEMPLATE_CONFIG
    return openai_generator(server), OPENAI_CONFIG


class TestGeneratorContract:
    def test_generates_text_for_the_segment(self, generator_and_config) -> None:  # type: ignore[no-untyped-def]
        generator, config = generator_and_config
        generated = run(generator, config)
        assert generated.content.strip()
        assert "gold" in generated.content
        assert "EU" in generated.content
        assert generated.generator == generator.name

    def test_records_the_sha256_of_the_rendered_prompt(self, generator_and_config) -> None:  # type: ignore[no-untyped-def]
        generator, config = generator_and_config
        text = config.get("template") or config["prompt"]
        prompt = render(text, VALUES)
        assert run(generator, config).prompt_digest == hashlib.sha256(prompt.encode()).hexdigest()

    def test_different_segments_get_different_prompts(self, generator_and_config) -> None:  # type: ignore[no-untyped-def]
        generator, config = generator_and_config
        one = run(generator, config, {"plan": "gold", "region": "EU"})
        two = run(generator, config, {"plan": "silver", "region": "EU"})
        assert one.prompt_digest != two.prompt_digest


# ---------------------------------------------------------------- template
def test_template_generator_is_deterministic_and_has_no_model() -> None:
    first, second = (
        run(TemplateGenerator(), TEMPLATE_CONFIG),
        run(TemplateGenerator(), TEMPLATE_CONFIG),
    )
    assert first == second
    assert first.content == "Hi gold member in EU!"
    assert first.model is None


def test_template_that_renders_empty_refuses_the_segment() -> None:
    with pytest.raises(SegmentRefused, match="empty content"):
        run(TemplateGenerator(), {"template": "{{plan}}"}, {"plan": None})


# ---------------------------------------------------------------- openai adapter
def test_openai_sends_model_system_prompt_prompt_and_temperature(server: ChatServer) -> None:
    generated = run(openai_generator(server), OPENAI_CONFIG)

    assert generated.model == "test-model"
    (request,) = server.log
    assert request.prompt == "Write to a gold customer in EU."
    assert request.model == "test-model"
    assert generated.content.endswith("Write to a gold customer in EU.")


@pytest.mark.parametrize("failure", ["429", "500", "garbage", "empty", "long"])
def test_openai_retries_transient_failures_and_invalid_output(failure: str) -> None:
    with chat_server(fail_every=2, failure=failure) as server:
        generator = openai_generator(server)

        async def several() -> list[str]:
            try:
                return [(await generator.generate(OPENAI_CONFIG, VALUES)).content for _ in range(4)]
            finally:
                await generator.aclose()

        contents = asyncio.run(several())

    assert len(contents) == 4
    assert all(c.strip() and len(c) <= 4000 for c in contents)
    statuses = [r.status for r in server.log]
    assert statuses.count(failure) >= 3  # every second call failed and was retried


def test_openai_gives_up_only_when_no_call_succeeded_for_the_outage_window() -> None:
    with (
        chat_server(fail_every=1, failure="500") as server,
        pytest.raises(ProviderOutage, match="HTTP 500") as raised,
    ):
        run(openai_generator(server, max_attempts=3, outage_seconds=0.5), OPENAI_CONFIG)
    assert len(server.log) > 3, "the attempt count does not end a call while within the window"
    assert not isinstance(raised.value, SegmentRefused), "a provider error is not the segment's"


def test_openai_refuses_the_segment_whose_request_the_provider_refuses() -> None:
    with (
        chat_server(fail_every=1, failure="policy") as server,
        pytest.raises(SegmentRefused) as raised,
    ):
        run(openai_generator(server, max_attempts=5), OPENAI_CONFIG)
    assert len(server.log) == 1, "a refused request is not retried"
    assert raised.value.reason == (
        "openai generator: HTTP 400: Your request was rejected as a result of our safety system."
    )


@pytest.mark.parametrize("failure", ["empty", "long"])
def test_openai_refuses_the_segment_whose_output_stays_unusable(failure: str) -> None:
    with (
        chat_server(fail_every=1, failure=failure) as server,
        pytest.raises(SegmentRefused, match=r"after 3 attempts") as raised,
    ):
        run(openai_generator(server, max_attempts=3), OPENAI_CONFIG)
    assert len(server.log) == 3
    assert "content" in raised.value.reason


def test_openai_wrong_key_fails_every_segment_alike() -> None:
    with (
        chat_server(fail_every=1, failure="401") as server,
        pytest.raises(GenerationFailed, match="HTTP 401") as raised,
    ):
        run(openai_generator(server, max_attempts=5), OPENAI_CONFIG)
    assert len(server.log) == 1
    assert not isinstance(raised.value, SegmentRefused)


def test_openai_does_not_retry_a_rejected_request() -> None:
    with (
        chat_server(fail_every=1, failure="400") as server,
        pytest.raises(GenerationFailed, match="HTTP 400"),
    ):
        run(openai_generator(server, max_attempts=5), OPENAI_CONFIG)
    assert len(server.log) == 1


def test_openai_retries_timeouts() -> None:
    with chat_server(latency=0.5) as server, pytest.raises(GenerationFailed, match="timed out"):
        run(openai_generator(server, timeout=0.1, outage_seconds=0.3), OPENAI_CONFIG)


def test_openai_bounds_concurrent_calls() -> None:
    with chat_server(latency=0.05) as server:
        generator = openai_generator(server, concurrency=3)

        async def many() -> None:
            try:
                await asyncio.gather(
                    *(
                        generator.generate(OPENAI_CONFIG, {"plan": str(i), "region": "EU"})
                        for i in range(12)
                    )
                )
            finally:
                await generator.aclose()

        asyncio.run(many())
    assert len(server.log) == 12
    assert server.state.max_in_flight <= 3


def test_build_generators_offers_openai_only_when_configured() -> None:
    assert set(build_generators(Settings())) == {"template"} or Settings().generator_base_url
    configured = Settings(
        NUDGESCRIBE_GENERATOR_BASE_URL="http://127.0.0.1:1/v1",  # type: ignore[call-arg]
        NUDGESCRIBE_GENERATOR_API_KEY="k",
    )
    assert set(build_generators(configured)) == {"template", "openai"}


def test_create_and_the_processor_agree_on_the_configured_providers() -> None:
    unconfigured = Settings(NUDGESCRIBE_GENERATOR_BASE_URL=None)  # type: ignore[call-arg]
    configured = Settings(
        NUDGESCRIBE_GENERATOR_BASE_URL="http://127.0.0.1:1/v1",  # type: ignore[call-arg]
    )
    assert configured_providers(unconfigured) == {"template"}
    for settings in (unconfigured, configured):
        assert configured_providers(settings) == set(build_generators(settings))


def test_template_refusal_is_what_the_template_generator_would_fail() -> None:
    cases = [
        ("Hi {{plan}}", {"plan": None}),
        ("{{plan}}", {"plan": "gold"}),
        ("{{plan}}", {"plan": None}),
        ("{{plan}}", {"plan": "  "}),
        ("{{plan}}", {"plan": "x" * 5000}),
        ("x" * 4001 + "{{plan}}", {"plan": "gold"}),
    ]
    for template, values in cases:
        refusal = template_refusal(template, [Segment.of(values, 1)])
        try:
            run(TemplateGenerator(), {"template": template}, values)
        except GenerationFailed:
            assert refusal is not None, (template, values)
        else:
            assert refusal is None, (template, values)
