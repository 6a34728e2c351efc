"""JSON transcodings for the aggregate's state objects, so snapshots can store them."""

from __future__ import annotations

from dataclasses import fields
from typing import Any
from uuid import UUID

import orjson
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


class OrjsonTranscoder(JSONTranscoder):
    """The library's JSON documents, encoded and decoded with orjson (every save and every
    load goes through it, and orjson does the work in C).

    Same shape as ``JSONTranscoder``: a registered type becomes
    ``{"_type_": name, "_data_": ...}``. orjson writes UUIDs and datetimes natively, so
    UUIDs are swapped for their transcoded form before encoding and datetimes and
    dataclasses are passed through to ``default``; decoding rebuilds the registered
    objects from any two-key ``_type_``/``_data_`` object, as the library's hook does.
    """

    OPTIONS = (
        orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS
    )

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(_swap_uuids(obj), default=self._default, option=self.OPTIONS)

    def decode(self, data: bytes) -> Any:
        return self._rebuild(orjson.loads(data))

    def _default(self, o: Any) -> dict[str, Any]:
        encoded = self._encode_obj(o)
        encoded["_data_"] = _swap_uuids(encoded["_data_"])
        return encoded

    def _rebuild(self, value: Any) -> Any:
        if type(value) is dict:
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                return self._decode_obj(
                    {"_type_": value["_type_"], "_data_": self._rebuild(value["_data_"])}
                )
            for key, item in value.items():
                if type(item) is dict or type(item) is list:
                    value[key] = self._rebuild(item)
            return value
        if type(value) is list:
            return [
                self._rebuild(item) if type(item) is dict or type(item) is list else item
                for item in value
            ]
        return value


def _swap_uuids(value: Any) -> Any:
    kind = type(value)
    if kind is UUID:
        return {"_type_": "uuid_hex", "_data_": value.hex}
    if kind is dict:
        return {k: _swap_uuids(v) if type(v) in _WALKED else v for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_swap_uuids(v) if type(v) in _WALKED else v for v in value]
    return value


_WALKED = {UUID, dict, list, tuple}
