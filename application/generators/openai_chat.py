"""The ``openai`` generator: any OpenAI-compatible chat-completions endpoint.

Calls are bounded by a semaphore (the server's ``generator_concurrency``) and retried
with exponential backoff and jitter on 429, 5xx, timeouts, connection errors and unusable
output (unparsable, empty, over-long). Other 4xx answers fail at once: retrying a
rejected request only burns quota. The semaphore is held through a retry's backoff so a
provider that answers 429 sees fewer requests, not the same number later.

A refusal of one segment's request (a 4xx such as a content-policy 400) and content that
stayed unusable through every attempt are that segment's (``SegmentRefused``); a wrong
key, permission or endpoint (401, 403, 404) refuses every segment alike and fails the run.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from application.generators.base import (
    MAX_CONTENT_CHARS,
    Generated,
    GenerationFailed,
    SegmentRefused,
    check_content,
    digest,
    render,
)

DEFAULT_MODEL = "gpt-4o-mini"
REFUSED_FOR_EVERY_SEGMENT = (401, 403, 404)


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class _Unusable(_Retryable):
    """The provider answered, but the content cannot be a message."""


@dataclass
class _LoopState:
    client: httpx.AsyncClient
    semaphore: asyncio.Semaphore


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None


def _error_message(response: httpx.Response) -> str:
    """The provider's own words for a refusal (OpenAI's ``error.message``), else the body."""
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = None
    return message if isinstance(message, str) else response.text[:300]


class OpenAIChatGenerator:
    name = "openai"

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        concurrency: int = 16,
        timeout: float = 30.0,
        max_attempts: int = 5,
        initial_backoff: float = 0.5,
        max_backoff: float = 20.0,
        max_chars: int = MAX_CONTENT_CHARS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_backoff = max_backoff
        self.max_chars = max_chars
        self._backoff = wait_exponential_jitter(
            multiplier=initial_backoff, max=max_backoff, jitter=initial_backoff
        )
        # An AsyncClient and a Semaphore belong to one event loop; keep one per loop.
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )

    async def generate(self, ai_config: Mapping[str, Any], values: Mapping[str, Any]) -> Generated:
        prompt = render(str(ai_config.get("prompt", "")), values)
        model = str(ai_config.get("model") or DEFAULT_MODEL)
        body = self._request_body(ai_config, model, prompt)
        state = self._state()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            reraise=True,
        )
        async with state.semaphore:
            try:
                async for attempt in retrying:
                    with attempt:
                        content, usage, latency_ms = await self._call(state.client, body)
            except _Unusable as error:
                raise SegmentRefused(
                    f"openai generator: {error} (after {self.max_attempts} attempts)"
                ) from error
            except _Retryable as error:
                raise GenerationFailed(
                    f"openai generator: {error} (gave up after {self.max_attempts} attempts)"
                ) from error
        return Generated(content, self.name, model, digest(prompt), usage, latency_ms)

    async def aclose(self) -> None:
        state = self._states.pop(asyncio.get_running_loop(), None)
        if state is not None:
            await state.client.aclose()

    def _request_body(
        self, ai_config: Mapping[str, Any], model: str, prompt: str
    ) -> dict[str, Any]:
        messages = []
        system_prompt = ai_config.get("system_prompt")
        if system_prompt:
            messages.append({"role": "system", "content": str(system_prompt)})
        messages.append({"role": "user", "content": prompt})
        body: dict[str, Any] = {"model": model, "messages": messages}
        for option in ("temperature", "max_tokens"):
            if ai_config.get(option) is not None:
                body[option] = ai_config[option]
        return body

    async def _call(
        self, client: httpx.AsyncClient, body: dict[str, Any]
    ) -> tuple[str, dict[str, int | None] | None, float]:
        """The answer's content, its token usage and the call's latency in ms."""
        try:
            response = await client.post("/chat/completions", json=body)
        except httpx.TimeoutException as error:
            raise _Retryable(f"timed out ({type(error).__name__})") from error
        except httpx.TransportError as error:
            raise _Retryable(f"connection failed ({type(error).__name__}: {error})") from error
        status = response.status_code
        if status in (408, 409, 429) or status >= 500:
            raise _Retryable(f"HTTP {status}", _retry_after(response))
        if status in REFUSED_FOR_EVERY_SEGMENT:
            raise GenerationFailed(f"openai generator: HTTP {status}: {response.text[:300]}")
        if status >= 400:
            raise SegmentRefused(f"openai generator: HTTP {status}: {_error_message(response)}")
        try:
            answer = response.json()
            content = answer["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise _Retryable("malformed response body") from None
        if not isinstance(content, str):
            raise _Unusable("response content is not text")
        problem = check_content(content, self.max_chars)
        if problem:
            raise _Unusable(problem)
        latency_ms = round(response.elapsed.total_seconds() * 1000, 3)
        return content.strip(), token_usage(answer), latency_ms

    def _wait(self, retry_state: RetryCallState) -> float:
        wait = float(self._backoff(retry_state))
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after:
            wait = max(wait, float(retry_after))
        return min(wait, self.max_backoff)

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)
        if state is None:
            headers = {"authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            state = _LoopState(
                client=httpx.AsyncClient(
                    base_url=self.base_url,
                    headers=headers,
                    timeout=httpx.Timeout(self.timeout),
                    limits=httpx.Limits(
                        max_connections=self.concurrency,
                        max_keepalive_connections=self.concurrency,
                    ),
                ),
                semaphore=asyncio.Semaphore(self.concurrency),
            )
            self._states[loop] = state
        return state


USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")


def token_usage(answer: dict[str, Any]) -> dict[str, int | None] | None:
    """The answer's ``usage`` token counts; None when it has no usage object."""
    usage = answer.get("usage")
    if not isinstance(usage, dict):
        return None
    return {name: _count(usage.get(name)) for name in USAGE_FIELDS}


def _count(value: Any) -> int | None:
    return value if type(value) is int and value >= 0 else None
