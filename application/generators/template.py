"""The default generator: offline and deterministic, renders the campaign's template."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from application.generators.base import Generated, GenerationFailed, check_content, digest, render


class TemplateGenerator:
    name = "template"

    async def generate(self, ai_config: Mapping[str, Any], values: Mapping[str, Any]) -> Generated:
        content = render(str(ai_config.get("template", "")), values)
        problem = check_content(content)
        if problem:  # deterministic: retrying would give the same answer
            raise GenerationFailed(f"template generator: {problem}")
        return Generated(content, self.name, None, digest(content))

    async def aclose(self) -> None:
        return None
