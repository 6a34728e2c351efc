"""A generator that records calls, failures and latency of the one it wraps."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from application.generators.base import Generated, Generator
from application.metrics import GENERATOR_CALLS, GENERATOR_ERRORS, GENERATOR_LATENCY


class InstrumentedGenerator:
    def __init__(self, inner: Generator) -> None:
        self.inner = inner
        self.name = inner.name

    async def generate(self, ai_config: Mapping[str, Any], values: Mapping[str, Any]) -> Generated:
        GENERATOR_CALLS.labels(self.name).inc()
        began = time.perf_counter()
        try:
            return await self.inner.generate(ai_config, values)
        except Exception:
            GENERATOR_ERRORS.labels(self.name).inc()
            raise
        finally:
            GENERATOR_LATENCY.labels(self.name).observe(time.perf_counter() - began)

    async def aclose(self) -> None:
        await self.inner.aclose()
