"""``ai_config``: how a campaign's messages are written, one of two shapes told apart by
``provider`` (absent means ``template``, the default)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag

from api.models.common import Identifier, RequestBody, Text, integral_float_as_int

# The most tokens an answer may be asked for: far above any model's window, inside int4.
MAX_TOKENS = 1_000_000
Tokens = Annotated[int, Field(ge=1, le=MAX_TOKENS), BeforeValidator(integral_float_as_int)]


class TemplateConfig(RequestBody):
    """Messages rendered from a template, offline and deterministic: ``{{field}}`` is the
    segment's value of that field, which must be one of the campaign's segment variables."""

    model_config = {
        "json_schema_extra": {
            "examples": [{"provider": "template", "template": "Hi {{plan}} member in {{region}}!"}]
        }
    }

    provider: Literal["template"] = "template"
    template: Annotated[Text, Field(min_length=1)]


class OpenAIConfig(RequestBody):
    """Messages written by the server's OpenAI-compatible endpoint (its address and key
    are the server's settings, never the request's). ``prompt`` may name segment
    variables as ``{{field}}``."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "provider": "openai",
                    "model": "gpt-4o-mini",
                    "system_prompt": "You write short, friendly marketing nudges.",
                    "prompt": "Write a nudge for a {{plan}} customer in {{region}}.",
                    "temperature": 0.7,
                }
            ]
        }
    }

    provider: Literal["openai"]
    prompt: Annotated[Text, Field(min_length=1)]
    model: Identifier | None = Field(default=None, description="The server's default if unset")
    system_prompt: Text | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    max_tokens: Tokens | None = None


def provider_of(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("provider", "template")
    return getattr(value, "provider", None)


AiConfig = Annotated[
    Annotated[TemplateConfig, Tag("template")] | Annotated[OpenAIConfig, Tag("openai")],
    Discriminator(
        provider_of,
        custom_error_type="invalid_provider",
        custom_error_message="provider must be one of template, openai",
    ),
]
