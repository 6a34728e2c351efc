"""Message generators behind one small port: ``template`` (default) and ``openai``."""

from __future__ import annotations

from collections.abc import Mapping

from application.generators.base import (
    Generated,
    GenerationFailed,
    Generator,
    ProviderOutage,
    SegmentRefused,
    digest,
    render,
)
from application.generators.instrumented import InstrumentedGenerator
from application.generators.openai_chat import OpenAIChatGenerator
from application.generators.template import TemplateGenerator, template_refusal
from application.settings import Settings

__all__ = [
    "Generated",
    "GenerationFailed",
    "Generator",
    "InstrumentedGenerator",
    "OpenAIChatGenerator",
    "ProviderOutage",
    "SegmentRefused",
    "TemplateGenerator",
    "build_generators",
    "configured_providers",
    "digest",
    "render",
    "template_refusal",
]


def configured_providers(settings: Settings) -> frozenset[str]:
    """The providers this server can generate with: ``openai`` only when an endpoint is
    configured. Create refuses the others, so a campaign never waits for a generator
    that is not there."""
    if settings.generator_base_url:
        return frozenset({"template", "openai"})
    return frozenset({"template"})


def build_generators(settings: Settings) -> Mapping[str, Generator]:
    """Provider name -> generator, for each of ``configured_providers``."""
    generators: dict[str, Generator] = {"template": TemplateGenerator()}
    if "openai" in configured_providers(settings):
        assert settings.generator_base_url is not None
        key = settings.generator_api_key
        generators["openai"] = OpenAIChatGenerator(
            settings.generator_base_url,
            key.get_secret_value() if key else None,
            concurrency=settings.generator_concurrency,
            timeout=settings.generator_timeout_seconds,
            max_attempts=settings.generator_max_attempts,
            outage_seconds=settings.generator_outage_seconds,
        )
    return {name: InstrumentedGenerator(g) for name, g in generators.items()}
