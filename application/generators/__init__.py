"""Message generators behind one small port: ``template`` (default) and ``openai``."""

from __future__ import annotations

from collections.abc import Mapping

from application.generators.base import (
    Generated,
    GenerationFailed,
    Generator,
    digest,
    render,
)
from application.generators.instrumented import InstrumentedGenerator
from application.generators.openai_chat import OpenAIChatGenerator
from application.generators.template import TemplateGenerator
from application.settings import Settings

__all__ = [
    "Generated",
    "GenerationFailed",
    "Generator",
    "InstrumentedGenerator",
    "OpenAIChatGenerator",
    "TemplateGenerator",
    "build_generators",
    "digest",
    "render",
]


def build_generators(settings: Settings) -> Mapping[str, Generator]:
    """Provider name -> generator; ``openai`` only when an endpoint is configured."""
    generators: dict[str, Generator] = {"template": TemplateGenerator()}
    if settings.generator_base_url:
        key = settings.generator_api_key
        generators["openai"] = OpenAIChatGenerator(
            settings.generator_base_url,
            key.get_secret_value() if key else None,
            concurrency=settings.generator_concurrency,
            timeout=settings.generator_timeout_seconds,
            max_attempts=settings.generator_max_attempts,
        )
    return {name: InstrumentedGenerator(g) for name, g in generators.items()}
