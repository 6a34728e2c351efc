"""Tamper evidence: each stored event carries a SHA-256 hash chained to its stream.

    hash(v) = SHA-256( hash(v-1) || stream id (16 bytes) || v (8 bytes, big-endian)
                       || topic (UTF-8) || 0x00 || state bytes )

with hash(0) = 32 zero bytes. The head of every stream (its last version and hash) is
also kept in ``stream_heads``, which an auditor can export and keep elsewhere: an event
edited, deleted or re-ordered in the database no longer matches its chain, and a chain
rewritten wholesale no longer matches the anchored head.
"""

from __future__ import annotations

import hashlib
from uuid import UUID

GENESIS = bytes(32)


def chain_hash(previous: bytes, stream_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    digest = hashlib.sha256(previous)
    digest.update(stream_id.bytes)
    digest.update(version.to_bytes(8, "big"))
    digest.update(topic.encode("utf-8"))
    digest.update(b"\x00")
    digest.update(state)
    return digest.digest()
