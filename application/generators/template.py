"""The default generator: offline and deterministic, renders the campaign's template."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from application.generators.base import (
    MAX_CONTENT_CHARS,
    Generated,
    SegmentRefused,
    as_text,
    check_content,
    digest,
    render,
)
from domain.campaign import template_variables
from domain.segments import Segment


class TemplateGenerator:
    name = "template"

    async def generate(self, ai_config: Mapping[str, Any], values: Mapping[str, Any]) -> Generated:
        content = render(str(ai_config.get("template", "")), values)
        problem = check_content(content)
        if problem:  # deterministic: retrying would give the same answer
            raise SegmentRefused(f"template generator: {problem}")
        return Generated(content, self.name, None, digest(content))

    async def aclose(self) -> None:
        return None


def template_refusal(template: str, segments: Iterable[Segment]) -> str | None:
    """Why rendering ``template`` for these segments is certain to fail, or None.

    Rendering is deterministic, so a template whose fixed text alone is too long, or that
    renders empty or too long for a segment the group already holds, would only fail the
    run later. The rendering and checks are the generator's own (``render`` and
    ``check_content``): what is refused here is exactly what generation would fail.
    """
    if len(render(template, {})) > MAX_CONTENT_CHARS:
        return (
            f"ai_config.template is longer than {MAX_CONTENT_CHARS} characters, the most a "
            "message may hold, even with every variable empty"
        )
    names = sorted(template_variables(template))
    for segment in segments:
        content = render(template, segment.values)
        if check_content(content) is None:
            continue
        customers = f"{segment.customer_count} customer(s) of the group"
        if not content.strip():
            return (
                f"ai_config.template renders an empty message for {customers}, whose "
                f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} missing or blank"
            )
        longest = max(names, key=lambda name: len(as_text(segment.values.get(name))))
        length = len(as_text(segment.values.get(longest)))
        return (
            f"ai_config.template renders longer than {MAX_CONTENT_CHARS} characters, the most "
            f"a message may hold, for {customers}: their field {longest!r} holds a value "
            f"of {length} characters"
        )
    return None
