"""The ``openai`` generator: any OpenAI-compatible chat-completions endpoint.

Calls in flight are bounded and paced by an adaptive limiter (at most
``generator_concurrency``; it halves when the provider answers 429 (or 503 with a
``Retry-After``) or times out, pauses every call for that ``Retry-After``, and grows
while calls succeed: limiter.py).
Transient failures (408, 409, 429, 5xx, timeouts, connection errors) are retried with
exponential backoff and jitter, never sooner than the provider asked (``Retry-After``,
``x-ratelimit-reset-*``), for as long as the provider makes progress: a call gives up
(``ProviderOutage``) only when no call has succeeded for ``outage_seconds``. A call
waits for its backoff without holding a slot, so the others keep the provider as busy
as the limiter allows. Other 4xx answers fail at once: retrying a rejected request only
burns quota.

A refusal of one segment's request (a 4xx such as a content-policy 400) and content that
stayed unusable (empty, over-long) through ``max_attempts`` are that segment's
(``SegmentRefused``); a wrong key, permission or endpoint (401, 403, 404) refuses every
segment alike and fails the run.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential_jitter,
)

from application.generators.base import (
    MAX_CONTENT_CHARS,
    Generated,
    GenerationFailed,
    ProviderOutage,
    SegmentRefused,
    check_content,
    digest,
    render,
)
from application.generators.limiter import AdaptiveLimiter
from application.generators.retry import ProgressClock, provider_wait
from application.metrics import (
    GENERATOR_CONCURRENCY_LIMIT,
    GENERATOR_RATE_LIMITED,
    GENERATOR_RETRIES,
)

DEFAULT_MODEL = "gpt-4o-mini"
REFUSED_FOR_EVERY_SEGMENT = (401, 403, 404)


class _Retryable(Exception):
    def __init__(
        self, reason: str, retry_after: float | None = None, *, overloaded: bool = False
    ) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.overloaded = overloaded


class _Unusable(_Retryable):
    """The provider answered, but the content cannot be a message."""


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
        outage_seconds: float = 300.0,
        initial_backoff: float = 0.5,
        max_backoff: float = 20.0,
        max_chars: int = MAX_CONTENT_CHARS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.outage_seconds = outage_seconds
        self.max_backoff = max_backoff
        self.max_chars = max_chars
        self._backoff = wait_exponential_jitter(
            multiplier=initial_backoff, max=max_backoff, jitter=initial_backoff
        )
        self.limiter = AdaptiveLimiter(concurrency, GENERATOR_CONCURRENCY_LIMIT.labels(self.name))
        self.progress = ProgressClock()
        # An AsyncClient belongs to one event loop; keep one per loop.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    async def generate(self, ai_config: Mapping[str, Any], values: Mapping[str, Any]) -> Generated:
        prompt = render(str(ai_config.get("prompt", "")), values)
        model = str(ai_config.get("model") or DEFAULT_MODEL)
        body = self._request_body(ai_config, model, prompt)
        client = self._client()
        retrying = AsyncRetrying(
            stop=self._stop,
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            before_sleep=self._count_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    content, usage, latency_ms = await self._limited_call(client, body)
        except _Unusable as error:
            raise SegmentRefused(
                f"openai generator: {error} (after {self.max_attempts} attempts)"
            ) from error
        except _Retryable as error:
            raise ProviderOutage(
                f"openai generator: no call succeeded for {self.outage_seconds:g} s (last: {error})"
            ) from error
        return Generated(content, self.name, model, digest(prompt), usage, latency_ms)

    async def aclose(self) -> None:
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    async def _limited_call(
        self, client: httpx.AsyncClient, body: dict[str, Any]
    ) -> tuple[str, dict[str, int | None] | None, float]:
        async with self.limiter.slot() as began:
            try:
                answer = await self._call(client, body)
            except _Retryable as error:
                if error.overloaded:
                    self.limiter.overloaded(began)
                    if error.retry_after is not None:
                        self.limiter.pause(error.retry_after)
                raise
            self.limiter.succeeded(began)
        self.progress.succeeded()
        return answer

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
            raise _Retryable(f"timed out ({type(error).__name__})", overloaded=True) from error
        except httpx.TransportError as error:
            raise _Retryable(f"connection failed ({type(error).__name__}: {error})") from error
        status = response.status_code
        if status == 429:
            GENERATOR_RATE_LIMITED.labels(self.name).inc()
        if status in (408, 409, 429) or status >= 500:
            wait = provider_wait(response)
            # The provider's overload signals, on which the limiter shrinks and pauses: a
            # 429, or a 503 that says when to come back (a server "temporarily overloaded",
            # RFC 9110). A bare 5xx is an error now and then, not a rate (limiter.py).
            overloaded = status == 429 or (status == 503 and wait is not None)
            raise _Retryable(f"HTTP {status}", wait, overloaded=overloaded)
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

    def _stop(self, retry_state: RetryCallState) -> bool:
        """Unusable output: after ``max_attempts``. Anything else: when the provider has
        made no progress for the outage window."""
        if isinstance(_error(retry_state), _Unusable):
            return retry_state.attempt_number >= self.max_attempts
        return self.progress.stalled_for(retry_state.start_time) >= self.outage_seconds

    def _wait(self, retry_state: RetryCallState) -> float:
        """Exponential backoff with jitter, never sooner than the provider asked."""
        wait = min(float(self._backoff(retry_state)), self.max_backoff)
        retry_after = getattr(_error(retry_state), "retry_after", None)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return min(wait, self.outage_seconds)

    def _count_retry(self, retry_state: RetryCallState) -> None:
        GENERATOR_RETRIES.labels(self.name).inc()

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            headers = {"authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            client = self._clients[loop] = httpx.AsyncClient(
                base_url=self.base_url,
                headers=headers,
                timeout=httpx.Timeout(self.timeout),
                limits=httpx.Limits(
                    max_connections=self.concurrency,
                    max_keepalive_connections=self.concurrency,
                ),
            )
        return client


def _error(retry_state: RetryCallState) -> BaseException | None:
    outcome = retry_state.outcome
    return outcome.exception() if outcome is not None else None


USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")


def token_usage(answer: dict[str, Any]) -> dict[str, int | None] | None:
    """The answer's ``usage`` token counts; None when it has no usage object."""
    usage = answer.get("usage")
    if not isinstance(usage, dict):
        return None
    return {name: _count(usage.get(name)) for name in USAGE_FIELDS}


def _count(value: Any) -> int | None:
    return value if type(value) is int and value >= 0 else None
