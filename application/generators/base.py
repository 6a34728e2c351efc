"""The generator port: turn a campaign's ai_config and one segment's values into a message."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from domain.segments import normalise_name

# Same pattern the aggregate validates templates with (domain.campaign.TEMPLATE_VARIABLE).
_VARIABLE = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
MAX_CONTENT_CHARS = 4000


@dataclass(frozen=True)
class Generated:
    content: str
    generator: str
    model: str | None
    prompt_digest: str  # sha256 of the rendered prompt, for auditors
    # What the provider reported: its token counts (prompt_tokens, completion_tokens,
    # total_tokens; None where it reported none) and how long the call took.
    usage: dict[str, int | None] | None = None
    latency_ms: float | None = None


class GenerationFailed(Exception):
    """Generation failed for good (after any retries); the run cannot complete."""


class ProviderOutage(GenerationFailed):
    """No call to the provider has succeeded for the whole outage window: it is down.
    The run fails; ``retry`` resumes it once the provider is back."""


class SegmentRefused(GenerationFailed):
    """This segment cannot be generated, whatever the other segments do: the provider
    refused its request, or its output stayed unusable. The run records it for that
    message (``Generation failed``, with ``reason``) and goes on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Generator(Protocol):
    name: str

    async def generate(self, ai_config: Mapping[str, Any], values: Mapping[str, Any]) -> Generated:
        """Generate one message; raise SegmentRefused when this segment cannot be generated,
        GenerationFailed when nothing can be."""
        ...

    async def aclose(self) -> None:
        """Release connections held for the running event loop."""
        ...


def as_text(value: Any) -> str:
    """A value as ``render`` writes it into a message."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render(template: str, values: Mapping[str, Any]) -> str:
    """Replace each ``{{ variable }}`` by the segment's value (null renders as nothing)."""
    return _VARIABLE.sub(lambda m: as_text(values.get(normalise_name(m.group(1)))), template)


def digest(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


def check_content(content: str, max_chars: int = MAX_CONTENT_CHARS) -> str | None:
    """Why the content is unusable, or None when it is fine."""
    if not content.strip():
        return "empty content"
    if len(content) > max_chars:
        return f"content longer than {max_chars} characters"
    return None
