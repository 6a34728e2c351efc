"""Who, from where, and on behalf of which request: metadata stored with every event.

The domain events stay pure. A save is given the command context of the request or job
that causes it (``CampaignStore.save(context=...)``); the store encodes it once and the
recorder splices it into each stored event's JSON as a ``_meta`` object. The mapper strips
it again when an event is read back into the domain.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import Cipher, Compressor, Mapper, StoredEvent, Transcoder

META_KEY = "_meta"
_META_MEMBER = b',"' + META_KEY.encode() + b'":'


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


# A write with nobody behind it (tests, tools): stored with null metadata fields.
NO_CONTEXT = CommandContext()


def encoded_metadata(mapper: Mapper[Any], context: CommandContext) -> bytes | None:
    """The ``_meta`` object for one save, or None when the mapper ciphers or compresses
    (metadata is only spliced into plain JSON state)."""
    if mapper.cipher or mapper.compressor:
        return None
    return mapper.transcoder.encode(asdict(context))


def with_metadata(stored: StoredEvent, metadata: bytes) -> StoredEvent:
    """The stored event with ``_meta`` spliced into its encoded JSON object, not re-encoded."""
    state = stored.state[:-1] + _META_MEMBER + metadata + b"}"
    return StoredEvent(stored.originator_id, stored.originator_version, stored.topic, state)


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
    """The library's mapper, reading events back without their ``_meta``."""

    def __init__(
        self,
        transcoder: Transcoder,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
    ) -> None:
        super().__init__(_MetadataStrippingTranscoder(transcoder), compressor, cipher)
        self.full_transcoder = transcoder  # for readers that want the metadata too
