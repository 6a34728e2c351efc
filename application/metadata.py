"""Who, from where, and on behalf of which request: metadata stored with every event.

The domain events stay pure; the mapper adds a ``_meta`` object to each stored event's
JSON from the command context of the request or job that caused it, and strips it again
when an event is read back into the domain.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Cipher, Compressor, Mapper, StoredEvent, Transcoder

META_KEY = "_meta"


@dataclass(frozen=True)
class CommandContext:
    user_id: str | None = None
    account_id: str | None = None
    ip: str | None = None
    correlation_id: str | None = None

    @classmethod
    def for_request(
        cls, *, user_id: str, account_id: UUID | str, ip: str, correlation_id: str | None = None
    ) -> CommandContext:
        return cls(user_id, str(account_id), ip, correlation_id or str(uuid4()))


_current: ContextVar[CommandContext] = ContextVar("command_context", default=CommandContext())  # noqa: B039 (frozen)


def current_context() -> CommandContext:
    return _current.get()


@contextmanager
def command_context(context: CommandContext) -> Iterator[CommandContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


class _MetadataStrippingTranscoder(Transcoder):
    """Decodes as the wrapped transcoder does, minus the metadata the domain never sees."""

    def __init__(self, inner: Transcoder) -> None:
        self.inner = inner

    def encode(self, obj: Any) -> bytes:
        return self.inner.encode(obj)

    def decode(self, data: bytes) -> Any:
        state = self.inner.decode(data)
        if isinstance(state, dict):
            state.pop(META_KEY, None)
        return state


class MetadataMapper(Mapper[Any]):
    def __init__(
        self,
        transcoder: Transcoder,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
    ) -> None:
        super().__init__(_MetadataStrippingTranscoder(transcoder), compressor, cipher)
        self.full_transcoder = transcoder  # for readers that want the metadata too
        self._last_meta: tuple[CommandContext, bytes] | None = None

    def _encoded_meta(self, context: CommandContext) -> bytes:
        """One save's events share a context: encode it once, not once per event."""
        last = self._last_meta
        if last is not None and last[0] is context:
            return last[1]
        meta = self.full_transcoder.encode(asdict(context))
        self._last_meta = (context, meta)
        return meta

    def to_stored_event(self, domain_event: DomainEventProtocol[Any]) -> StoredEvent:
        stored = super().to_stored_event(domain_event)
        if self.cipher or self.compressor:
            return stored  # metadata is only spliced into plain JSON state
        # Splice the metadata into the encoded JSON object rather than re-encoding it.
        meta = self._encoded_meta(current_context())
        state = stored.state[:-1] + b',"' + META_KEY.encode() + b'":' + meta + b"}"
        return StoredEvent(stored.originator_id, stored.originator_version, stored.topic, state)
