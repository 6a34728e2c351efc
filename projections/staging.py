"""Staging a batch's message events from Python, so the database core only writes rows.

Most of the log is message events (a few hundred bytes of JSON each). Parsing them in the
server (``::jsonb`` plus the field casts) cost about half of a catch-up's server time,
on the one core a backend runs on. Here the client parses them with orjson and sends the
typed columns with a binary COPY; the other events (a handful per run, some of them
hundreds of kilobytes) keep the server-side path of ``projections.events``.

Exactness: a row staged here must equal what the SQL decoders of
``projections.decoding`` stage for the same event. An event is only staged here when each
field has the type the domain writes (text as str, run as int, transcoded values as
``{"_type_": ..., "_data_": str}``); anything else (malformed JSON, an unexpected shape)
goes to the SQL path, which decides as it always did. NUL, which PostgreSQL text refuses,
becomes U+FFFD as in the SQL path.
"""

from __future__ import annotations

import re
import struct
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import NamedTuple

import orjson

# The message events: most of the log, parsed (and folded) by the client.
MESSAGE_EVENTS = (
    "SegmentMatched",
    "MessageGenerated",
    "MessageArchived",
    "MessageReviewed",
    "MessageEdited",
    "MessageRegenerationRequested",
    "MessagePublished",
)
# The staged columns of a message event, in COPY order (see ``projections.events``).
COLUMNS = (
    "id",
    "cid",
    "type",
    "ts",
    "run",
    "key",
    "mid",
    "content",
    "decision",
    "source",
    "reason",
    "n",
)
_INT4 = range(-(2**31), 2**31)

# PostgreSQL's binary COPY format (documented with COPY): a header, then per row the field
# count and each field as its length (-1: NULL) and bytes, then a trailer. Rows are
# encoded by the thread that parsed them, so the batch's connection only sends bytes.
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
_ROW_START = struct.pack(">h", len(COLUMNS))
_NULL = struct.pack(">i", -1)
_INT8 = struct.Struct(">iq")  # length 8, value
_INT4_FIELD = struct.Struct(">ii")  # length 4, value
_LENGTH = struct.Struct(">i")
_UUID_LENGTH = _LENGTH.pack(16)
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # timestamptz: microseconds since then
_fromisoformat = datetime.fromisoformat
_loads, _JSONDecodeError = orjson.loads, orjson.JSONDecodeError
_new_tuple = tuple.__new__


def copy_data(rows: list[bytes]) -> bytes:
    """The whole binary COPY stream of ``rows`` (each its field count and fields)."""
    return b"".join((COPY_HEADER, *rows, COPY_TRAILER))


class NotStageable(Exception):
    """The event is left to the server-side decoders."""


class Message(NamedTuple):
    """A message event as parsed by the client: the staged columns' Python values."""

    position: int
    cid: bytes  # the campaign id's 16 bytes
    type: str
    ts: int  # microseconds since 2000-01-01 UTC (PostgreSQL's timestamptz)
    run: int | None
    key: str | None
    mid: bytes | None  # 16 bytes
    content: str | None
    decision: str | None
    source: bytes | None  # 16 bytes
    reason: str | None


def _text(value: object) -> str | None:
    if value is None:
        return None
    if type(value) is not str:
        raise NotStageable
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def _uuid(value: object) -> bytes | None:
    if value is None:
        return None
    if type(value) is not dict or value.get("_type_") != "uuid_hex":
        raise NotStageable
    data = value.get("_data_")
    # fromhex skips spaces, which uuid_in refuses: 32 characters for 16 bytes.
    if type(data) is not str or len(data) != 32:
        raise NotStageable
    try:
        raw = bytes.fromhex(data)
    except ValueError:
        raise NotStageable from None
    if len(raw) != 16:
        raise NotStageable
    return raw


# The domain's own form of a time (``datetime.isoformat`` of an aware time): the server
# may read other forms differently (a naive time in its own time zone, more than six
# fraction digits rounded), so only this one is staged by the client.
_CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?[+-]\d\d:\d\d")


def _timestamp(value: object) -> int:
    if type(value) is not dict or value.get("_type_") != "datetime_iso":
        raise NotStageable
    data = value.get("_data_")
    if type(data) is not str or _CANONICAL_TIME.fullmatch(data) is None:
        raise NotStageable
    try:
        since = _fromisoformat(data) - _PG_EPOCH
    except ValueError:  # e.g. month 13
        raise NotStageable from None
    return (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds


# Which of (message_id, content, decision, copied_from_message_id, reason) the fold of
# ``projections.folding`` reads, by event type (it parses only those).
_FOLD_READS = {
    "SegmentMatched": (True, True, False, True, False),
    "MessageGenerated": (True, True, False, False, False),
    "MessageReviewed": (False, False, True, False, False),
    "MessageEdited": (False, True, False, False, False),
    "MessageRegenerationRequested": (False, False, False, False, False),
    "MessagePublished": (False, False, False, False, False),
    "MessageArchived": (False, False, False, False, True),
}
_ALL = (True, True, True, True, True)


def parse_event(
    position: int, campaign_id: bytes, type_name: str, event: object, for_fold: bool = False
) -> Message:
    """One message event's staged values from its decoded JSON state (``campaign_id``:
    the uuid's 16 bytes); raises NotStageable when the SQL path must decide.
    ``for_fold``: only the fields the fold reads (the others None, unchecked). Runs once
    per event: kept to few calls."""
    if type(event) is not dict:
        raise NotStageable
    get = event.get
    run = get("run_number")
    if run is not None and (type(run) is not int or run not in _INT4):
        raise NotStageable
    key = get("segment_key")
    if type(key) is str:
        if "\x00" in key:
            key = key.replace("\x00", "\ufffd")
    elif key is not None:
        raise NotStageable
    mid, content, decision, source, reason = _FOLD_READS.get(type_name, _ALL) if for_fold else _ALL
    return _new_tuple(  # Message(...) without its Python-level __new__
        Message,
        (
            position,
            campaign_id,
            type_name,
            _timestamp(get("timestamp")),
            run,
            key,
            _uuid(get("message_id")) if mid else None,
            _text(get("content")) if content else None,
            _text(get("decision")) if decision else None,
            _uuid(get("copied_from_message_id")) if source else None,
            _text(get("reason")) if reason else None,
        ),
    )


UNREADABLE = object()  # a state that is not JSON: the server decides


def decode(state: bytes) -> object:
    """An event's JSON state, decoded (``UNREADABLE`` if it is not JSON)."""
    try:
        return _loads(state)
    except _JSONDecodeError:
        return UNREADABLE


def parse_message(
    position: int, campaign_id: bytes, type_name: str, state: bytes, for_fold: bool = False
) -> Message:
    """``parse_event`` of a state as stored."""
    return parse_event(position, campaign_id, type_name, decode(state), for_fold)


def started_run(position: int, campaign_id: bytes, state: bytes) -> Message | None:
    """A RunStarted's run number, as a Message with only that field (None if unreadable):
    the fold knows the rows of a run started in the window did not exist before it."""
    event = decode(state)
    run = event.get("run_number") if type(event) is dict else None
    if type(run) is not int or run not in _INT4:
        return None
    return Message(position, campaign_id, "RunStarted", 0, run, None, None, None, None, None, None)


def as_datetime(microseconds: int) -> datetime:
    """A staged time (microseconds since 2000-01-01 UTC) as a datetime."""
    return _PG_EPOCH + timedelta(microseconds=microseconds)


# Binary COPY fields.
def text_field(value: str | None) -> bytes:
    if value is None:
        return _NULL
    data = value.encode()
    return _LENGTH.pack(len(data)) + data


def uuid_field(value: bytes | None) -> bytes:
    return _NULL if value is None else _UUID_LENGTH + value


def timestamp_field(value: int | None) -> bytes:
    return _NULL if value is None else _INT8.pack(8, value)


def int4_field(value: int | None) -> bytes:
    return _NULL if value is None else _INT4_FIELD.pack(4, value)


def int8_field(value: int) -> bytes:
    return _INT8.pack(8, value)


NULL = _NULL


def field_count(count: int) -> bytes:
    """The start of a binary COPY row of ``count`` fields."""
    return struct.pack(">h", count)


BOOL_FIELDS = (_LENGTH.pack(1) + b"\x00", _LENGTH.pack(1) + b"\x01")  # false, true


@cache
def _type_field(type_name: str) -> bytes:
    return text_field(type_name)


def _head(
    position: int, cid: bytes, type_name: str, ts: int, run: int | None, key: str | None
) -> bytes:
    """The COPY fields of ``COLUMNS`` up to ``key``."""
    return b"".join(
        (
            _ROW_START,
            _INT8.pack(8, position),
            _UUID_LENGTH,
            cid,
            _type_field(type_name),
            _INT8.pack(8, ts),
            int4_field(run),
            text_field(key),
        )
    )


def encode_message(m: Message) -> bytes:
    """A parsed message event as a binary COPY row of ``COLUMNS``."""
    return b"".join(
        (
            _head(m.position, m.cid, m.type, m.ts, m.run, m.key),
            uuid_field(m.mid),
            text_field(m.content),
            text_field(m.decision),
            uuid_field(m.source),
            text_field(m.reason),
            _ONE,
        )
    )


_ONE = _INT4_FIELD.pack(4, 1)
_SLIM_NULLS = _NULL * 4  # mid, content, decision, source


def encode_events(first: Message, count: int, latest: int) -> bytes:
    """``count`` events alike for every statement but the message rows' (of one type,
    campaign, run, reason, with a segment key or without; ``first`` the first of them) as
    one staged row, at the first one's position, with the latest time (a folded window's
    message events, see ``projections.folding``)."""
    return b"".join(
        (
            _head(first.position, first.cid, first.type, latest, first.run, first.key),
            _SLIM_NULLS,
            text_field(first.reason),
            _INT4_FIELD.pack(4, count),
        )
    )


def message_row(position: int, campaign_id: bytes, type_name: str, state: bytes) -> bytes:
    """One message event as a binary COPY row of ``COLUMNS``; raises NotStageable when the
    SQL path must decide."""
    return encode_message(parse_message(position, campaign_id, type_name, state))
