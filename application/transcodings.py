"""JSON transcodings for the aggregate's state objects, so snapshots can store them."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding

from domain.model import Message, Run
from domain.segments import Segment


def _dataclass_transcoding(cls: type[Any]) -> Transcoding:
    names = [f.name for f in fields(cls)]

    class _DataclassAsDict(Transcoding):
        type = cls
        name = cls.__name__.lower()

        def encode(self, obj: Any) -> dict[str, Any]:
            return {n: getattr(obj, n) for n in names}

        def decode(self, data: dict[str, Any]) -> Any:
            return cls(**data)

    return _DataclassAsDict()


def register_domain_transcodings(transcoder: JSONTranscoder) -> None:
    for cls in (Segment, Message, Run):
        transcoder.register(_dataclass_transcoding(cls))
