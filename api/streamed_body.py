"""Bodies holding one large array (customer uploads): read an item at a time.

``JsonBody`` turns a whole body into Python objects at once, about fifteen times its size
in memory: gigabytes for a 32 MiB upload. Here the body's text is kept (at most its
limit) and walked twice with the standard library's decoder, one value at a time:

1. ``check``: the whole body, by ``JsonBody``'s rules and in its order of precedence:
   strict JSON (no NaN or Infinity, no number beyond a double), then the model (401 for
   a missing field, 400 naming a field; it is given each array empty), then every key
   and string the model reads (``api.body.first_bad_string``; an unpaired surrogate
   escape anywhere, which this decoder lets through, is invalid JSON as orjson has it).
   Only the fields outside arrays are kept.
2. ``items``: the items of the large array again, one at a time, for the caller to
   consume as a stream: no list of them is ever built.

Every array at the top level of the body is read an item at a time; other values whole.

Both walks are pure Python on a worker thread, seconds long for a large body, in the
process whose event loop answers every other request. A thread that computes without
pause keeps the interpreter lock until the interpreter takes it away (every 5 ms by
default), and the event loop waits that long each time it gives the lock up for a
socket call: reads took 200-400 ms while uploads ran. So the walk gives the lock up
every ``ITEMS_PER_TURN`` items (about a millisecond of work), and a waiting event loop
runs at once.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any, Generic, TypeVar, get_args

from fastapi import Request
from pydantic import BaseModel

from api.body import UNPAIRED_SURROGATE, JsonBody, first_bad_string, invalid_json
from api.errors import bad_request

M = TypeVar("M", bound=BaseModel)
_WHITESPACE = re.compile(r"[ \t\n\r]*")  # RFC 8259's whitespace only
ITEMS_PER_TURN = 200


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number beyond a double")
    return value


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite)


class _NotAnObject(Exception):
    pass


def _skip(text: str, at: int) -> int:
    found = _WHITESPACE.match(text, at)
    assert found is not None  # the pattern matches the empty string
    return found.end()


def _value(text: str, at: int) -> tuple[Any, int]:
    value, end = _DECODER.raw_decode(text, at)
    return value, _skip(text, end)


def _top_level(text: str) -> Iterator[tuple[str, int | None, Any]]:
    """``(key, index, item)`` for each item of a top-level array, then ``(key, None, [])``;
    ``(key, None, value)`` for any other field. ValueError when the text is not JSON."""
    at = _skip(text, 0)
    if not text.startswith("{", at):
        _, at = _value(text, at)  # invalid JSON answers as such first
        if at != len(text):
            raise ValueError("trailing data")
        raise _NotAnObject
    at = _skip(text, at + 1)
    closed = text.startswith("}", at)
    while not closed:
        key, at = _value(text, at)
        if not isinstance(key, str) or not text.startswith(":", at):
            raise ValueError("expected a key and a colon")
        at = _skip(text, at + 1)
        if text.startswith("[", at):
            at = _skip(text, at + 1)
            index, ended = 0, text.startswith("]", at)
            while not ended:
                item, at = _value(text, at)
                yield key, index, item
                index += 1
                if index % ITEMS_PER_TURN == 0:
                    time.sleep(0)  # lets a waiting thread (the event loop) take the lock
                ended = text.startswith("]", at)
                if not ended and not text.startswith(",", at):
                    raise ValueError("expected a comma or the end of the array")
                at = _skip(text, at + 1) if not ended else at
            at = _skip(text, at + 1)
            yield key, None, []
        else:
            value, at = _value(text, at)
            yield key, None, value
        closed = text.startswith("}", at)
        if not closed and not text.startswith(",", at):
            raise ValueError("expected a comma or the end of the object")
        at = _skip(text, at + 1) if not closed else at
    if _skip(text, at + 1) != len(text):
        raise ValueError("trailing data")


class LargeBody(Generic[M]):
    """A body to ``receive`` (in its turn: it may be 32 MiB), ``check``, then stream its
    ``items``."""

    def __init__(self, parser: StreamedBody, request: Request | None, raw: bytes = b"") -> None:
        self._parser = parser
        self._request = request
        self._raw = raw
        self._text = ""
        self._occurrences: Counter[str] = Counter()

    async def receive(self, timeout: float) -> None:
        """Read the body, whole within ``timeout`` seconds, else 408."""
        assert self._request is not None
        raw = await self._parser.read_in_time(self._request, timeout)
        if raw is None:
            self._parser.validate(b"{}")  # a missing required field answers 401
            raw = b"{}"
        self._raw, self._request = raw, None

    def check(self) -> M:
        """The model of the body's fields, each array given empty; raises its ApiError."""
        try:
            self._text = self._raw.decode("utf-8")
        except UnicodeDecodeError:
            raise invalid_json() from None
        self._raw = b""
        fields: Any = {}
        problem: tuple[tuple[Any, ...], str] | None = None
        try:
            for key, index, value in _top_level(self._text):
                whole = {key: value} if index is None else value
                found = first_bad_string(whole)
                if found is not None and found[1] == UNPAIRED_SURROGATE:
                    raise ValueError("orjson refuses it as invalid JSON: so do we")
                if problem is None and found is not None:
                    # A NUL or an over-long string counts only where the model reads it.
                    found = first_bad_string(self._parser.known_part(key, index, whole))
                    if found is not None:
                        where, reason = found
                        problem = (where if index is None else (key, index, *where)), reason
                if index is None:
                    fields[key] = value
                    self._occurrences[key] += 1
        except _NotAnObject:
            fields = []
        except (ValueError, RecursionError):
            raise invalid_json() from None
        # The standard library's encoder: it writes any integer (orjson stops at 64 bits).
        model: M = self._parser.validate(json.dumps(fields).encode())
        if problem is not None:
            where, reason = problem
            field = ".".join(str(part) for part in where)
            raise bad_request(f"Invalid value for {field}: {reason}", "invalid_field")
        return model

    def items(self) -> Iterator[Any]:
        """The items of the large array (its last occurrence, as a repeated key's last
        value is the one that counts), decoded one at a time; after ``check``."""
        field = self._parser.field
        wanted, seen = self._occurrences[field], 0
        for key, index, item in _top_level(self._text):
            if key != field:
                continue
            if index is None:
                seen += 1
            elif seen + 1 == wanted:
                yield item


class StreamedBody(JsonBody):
    """The dependency of a body whose ``field`` array may be large (``api.openapi``
    documents its model as it does ``JsonBody``'s). Reads nothing yet: the route
    ``receive``s the body in its turn, so bodies waiting for their turn are not held in
    memory (uvicorn stops reading a connection whose body is not consumed)."""

    def __init__(self, model: type[BaseModel], field: str, limit: int) -> None:
        super().__init__(model, limit)
        self.field = field
        (item,) = get_args(model.model_fields[field].annotation)
        self.item_fields = set(item.model_fields) if issubclass(item, BaseModel) else None

    def known_part(self, key: str, index: int | None, value: Any) -> Any:
        """What the model reads of a top-level field (``index`` None) or of an item of
        the large array: nothing of an unknown field, or of an item's unknown keys."""
        if key not in self.model.model_fields:
            return None
        if index is not None and self.item_fields is not None and isinstance(value, dict):
            return {k: v for k, v in value.items() if k in self.item_fields}
        return value

    async def __call__(self, request: Request) -> Any:
        return LargeBody(self, request)
