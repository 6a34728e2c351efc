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
from datetime import UTC, datetime
from functools import cache

import orjson

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


def copy_data(rows: list[bytes]) -> bytes:
    """The whole binary COPY stream of ``rows`` (from ``message_row``)."""
    return b"".join((COPY_HEADER, *rows, COPY_TRAILER))


class NotStageable(Exception):
    """The event is left to the server-side decoders."""


def _text(value: object) -> bytes:
    if value is None:
        return _NULL
    if type(value) is not str:
        raise NotStageable
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    data = value.encode()
    return _LENGTH.pack(len(data)) + data


@cache
def _type_field(type_name: str) -> bytes:
    return _text(type_name)


def _transcoded(value: object, expected: str) -> str | None:
    """The ``_data_`` text of a transcoded value (None when the field is null)."""
    if value is None:
        return None
    if type(value) is not dict or value.get("_type_") != expected:
        raise NotStageable
    data = value.get("_data_")
    if type(data) is not str:
        raise NotStageable
    return data


def _uuid(value: object) -> bytes:
    data = _transcoded(value, "uuid_hex")
    if data is None:
        return _NULL
    try:
        raw = bytes.fromhex(data)
    except ValueError:
        raise NotStageable from None
    if len(data) != 32 or len(raw) != 16:  # fromhex skips spaces, which uuid_in refuses
        raise NotStageable
    return _UUID_LENGTH + raw


# The domain's own form of a time (``datetime.isoformat`` of an aware time): the server
# may read other forms differently (a naive time in its own time zone, more than six
# fraction digits rounded), so only this one is staged by the client.
_CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?[+-]\d\d:\d\d")


def _timestamp(value: object) -> bytes:
    data = _transcoded(value, "datetime_iso")
    if data is None or _CANONICAL_TIME.fullmatch(data) is None:
        raise NotStageable
    try:
        since = datetime.fromisoformat(data) - _PG_EPOCH
    except ValueError:  # e.g. month 13
        raise NotStageable from None
    return _INT8.pack(8, (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds)


def message_row(position: int, campaign_id: bytes, type_name: str, state: bytes) -> bytes:
    """One message event as a binary COPY row of ``COLUMNS`` (``campaign_id``: the uuid's
    16 bytes); raises NotStageable when the SQL path must decide."""
    try:
        event = orjson.loads(state)
    except orjson.JSONDecodeError:
        raise NotStageable from None
    if type(event) is not dict:
        raise NotStageable
    get = event.get
    run = get("run_number")
    if run is None:
        run_field = _NULL
    elif type(run) is int and run in _INT4:
        run_field = _INT4_FIELD.pack(4, run)
    else:
        raise NotStageable
    return b"".join(
        (
            _ROW_START,
            _INT8.pack(8, position),
            _UUID_LENGTH,
            campaign_id,
            _type_field(type_name),
            _timestamp(get("timestamp")),
            run_field,
            _text(get("segment_key")),
            _uuid(get("message_id")),
            _text(get("content")),
            _text(get("decision")),
            _uuid(get("copied_from_message_id")),
            _text(get("reason")),
        )
    )
