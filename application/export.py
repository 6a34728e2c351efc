"""``events export`` as bytes: JSON lines spliced from the stored JSON text, not re-encoded.

``audit.export_events`` parses each event's JSON, unwraps the transcoded values, and the
CLI re-encodes the result, all in Python for every event. The stored JSON already holds
nearly every byte of the exported line, so ``export_lines`` splices it instead:

* the server cuts each stored state ``{"timestamp":<wrapper>,<members>,"_meta":{...}}``
  into the line's tail, ``<timestamp text>","data":{<members>},"metadata":{...}}``,
  with a few byte-position searches (no parsing);
* Python puts the head in front (``{"position":..,"stream_id":..,"version":..,
  "type":..,"timestamp":"``) and then works on a page of 2,000 lines at once: the
  transcoded values are unwrapped with one regular expression over the page
  (``{"_type_":"uuid_hex","_data_":"<hex>"}`` becomes the dashed UUID string, any other
  string-valued wrapper its string), and the checks below are literal searches;
* the next pages are asked for before this one is spliced (``export_pages``: libpq's
  pipeline mode), so the server's part and Python's overlap on two cores.

The result is byte for byte what the CLI wrote before, ``json.dumps(event_record(...),
ensure_ascii=False, separators=(",", ":"))`` (``tests/integration/test_export_lines.py``
checks it on generated events). That holds when the stored text is written the way
orjson (or the library's compact JSON encoder) writes it, as the store does: no spaces
between tokens, exponents with a sign (``1e-07``, never ``1e5``), no duplicate keys. Any
event whose splice could read differently is decoded instead (``audit.event_record``),
one event at a time:

* a state that does not start with the timestamp wrapper, that has an
  ``originator_topic`` (a Created event: the export leaves it out), or whose ``_meta``
  is not last and exactly ``{"user_id","account_id","ip","correlation_id"}`` with
  string or null values;
* escapes json.dumps writes otherwise (``\\/``, ``\\u00e9``: it writes ``/`` and ``é``;
  ``\\" \\\\ \\b \\f \\n \\r \\t`` and the other ``\\u00XX`` controls are kept);
* floats orjson writes unlike ``repr`` (``0.00001`` is ``1e-05``, ``1e-7`` is
  ``1e-07``): any ``0.0000``, any number in exponent form;
* a wrapper left (non-string data, keys in the other order): any ``"_type_"``;
* a state stored at an older version of its type whose upcasters do more than add
  members after the stored ones (``_in_current_version``).

A false alarm (``0.0000`` in a message) only costs the slower way for that event.

Why not SQL all the way: jsonb reorders keys, rewrites numbers (``1e2`` is ``100``) and
refuses ``\\u0000``; and the server's part is what the export waits for, so each step
moved there (unwrapping with regexp_replace, the head with to_json(text) or translate(),
more position() searches to dash the first UUID or flag exponents) costs the server more
than it saves Python.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, BinaryIO
from uuid import UUID

import orjson
from psycopg import Connection, sql

from application.audit import FETCH_SIZE, _dashed, event_record
from application.export_pages import pages
from application.store import EVENTS_TABLE
from domain.versions import VERSION_KEY, current_version, stored_version, upcast

# The stored state's first member, {"timestamp":{"_type_":"datetime_iso","_data_":"..."},
_HEAD = b'{"timestamp":{"_type_":"datetime_iso","_data_":"'
_META = b',"_meta":{"user_id":'
_DATA = b'","data":'  # in a line: the timestamp's closing quote, then the data object
_LINE = b'{"position":%d,"stream_id":"%s","version":%d,"type":%s,"timestamp":"'

_STRING = rb'"[^"\\\n]*(?:\\.[^"\\\n]*)*"'
_VALUE = rb"(?:null|" + _STRING + rb")"
_META_SHAPE = re.compile(
    rb'\{"user_id":'
    + _VALUE
    + rb',"account_id":'
    + _VALUE
    + rb',"ip":'
    + _VALUE
    + rb',"correlation_id":'
    + _VALUE
    + rb"\}"
)
# A wrapper's `{` cannot be inside a string: a raw `"` right after it would close that
# string, and `_type_"` cannot follow a closed string in JSON. So every match is a real
# object with exactly these two keys, as decode_transcoded sees it.
_UUID = re.compile(
    rb'\{"_type_":"uuid_hex","_data_":"([0-9a-f]{8})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{4})'
    rb'([0-9a-f]{12})"\}'
)
_WRAPPER = re.compile(rb'\{"_type_":(' + _STRING + rb'),"_data_":(' + _STRING + rb")\}")
# Escapes json.dumps(ensure_ascii=False) writes itself; any other (and, harmlessly, an
# escaped backslash followed by u) sends the line the decoding way.
_BAD_ESCAPE = re.compile(rb'\\(?:[^"\\bfnrtu]|u(?!00(?:0[0-7bef]|1[0-9a-f])))')
# A number token in exponent form ending where the searched window ends: `:1e-`, `[-2.5e+`.
_EXPONENT = re.compile(rb"[:,\[]-?[0-9]+(?:\.[0-9]+)?[eE][-+]\Z")

# Per row: position, stream, version, topic; the line's tail (with its newline), null
# when the state does not have the expected shape; its _meta object; the state when the
# tail is null. `state || ''` reads a large (TOASTed) state once, not once for each function
# that looks at it; `quote` is the timestamp's closing quote (an ISO datetime is 32
# bytes), `meta` where `,"_meta":{"user_id":` starts; OFFSET 0 keeps each subquery from
# being inlined into every use of its columns.
_LINES = """
SELECT s.notification_id, s.originator_id::text, s.originator_version, s.topic,
  CASE WHEN s.spliced THEN substring(s.state FROM 49 FOR s.quote - 48) || ',"data":{{'::bytea
    || substring(s.state FROM s.quote + 3 FOR greatest(s.meta - s.quote - 3, 0))
    || '}},"metadata":'::bytea || substring(s.state FROM s.meta + 9) || '\\x0a'::bytea END,
  CASE WHEN s.spliced THEN substring(s.state FROM s.meta + 9 FOR length(s.state) - s.meta - 9) END,
  CASE WHEN NOT s.spliced THEN s.state END
FROM (
  SELECT *, substring(t.state FOR 48) = %(head)s AND t.quote > 48 AND t.meta > t.quote
      AND substring(t.state FROM t.quote + 1 FOR 2) = '}},'::bytea
      AND substring(t.state FROM t.quote + 2 FOR 20) <> ',"originator_topic":'::bytea
      AND position('\\x5c'::bytea IN substring(t.state FROM 49 FOR t.quote - 49)) = 0
      AND substring(t.state FROM length(t.state)) = '}}'::bytea AS spliced
  FROM (
    SELECT u.*, 48 + position('"'::bytea IN substring(u.state FROM 49 FOR 100)) AS quote,
      position(%(meta)s IN u.state) AS meta
    FROM (
      SELECT e.notification_id, e.originator_id, e.originator_version, e.topic,
        e.state || ''::bytea AS state
      FROM {events} e WHERE e.notification_id > %(since)s {stream}
      ORDER BY e.notification_id OFFSET 0
    ) u OFFSET 0
  ) t OFFSET 0
) s
"""
_STATES = sql.SQL("SELECT notification_id, state FROM {} WHERE notification_id = ANY(%s)").format(
    sql.Identifier(EVENTS_TABLE)
)

Row = tuple[int, str, int, str, bytes | None, bytes | None, bytes | None]


def write_lines(
    conn: Connection[Any],
    out: BinaryIO,
    *,
    campaign_id: UUID | None = None,
    since: int | None = None,
) -> int:
    """``nudgescribe events export``: the lines written to ``out``; returns how many."""
    count = 0
    for page in export_lines(conn, campaign_id=campaign_id, since=since):
        out.write(page)
        count += page.count(b"\n")
    return count


def export_lines(
    conn: Connection[Any], *, campaign_id: UUID | None = None, since: int | None = None
) -> Iterator[bytes]:
    """The log in log order as UTF-8 JSON lines, a page of lines (each ending with a
    newline) at a time; ``since`` is exclusive (positions after it)."""
    query = sql.SQL(_LINES).format(  # type: ignore[arg-type]
        events=sql.Identifier(EVENTS_TABLE),
        stream=sql.SQL("AND e.originator_id = %(stream)s") if campaign_id else sql.SQL(""),
    )
    params = {"head": _HEAD, "meta": _META, "since": since or 0, "stream": campaign_id}
    splicer = _Splicer()
    with conn.transaction():
        # Binary: bytea arrives as raw bytes, not as hex text to decode.
        for rows in pages(conn, "export_lines", query, params, FETCH_SIZE):
            text, slow = splicer.page(rows)
            if slow:
                text = _with_decoded(conn, text, {index: rows[index] for index in slow})
            yield text


class _Splicer:
    """Pages of rows to pages of lines; remembers each topic's type name and version stamp
    and each metadata object's verdict (a save's events share one)."""

    def __init__(self) -> None:
        self.types: dict[str, bytes] = {}
        self.stamps: dict[str, bytes] = {}
        self.metas: dict[bytes | None, bool] = {None: False}

    def page(self, rows: list[Row]) -> tuple[bytes, list[int]]:
        """The page's lines, and the indexes of the lines still to decode (read again)."""
        parts: list[bytes] = []  # head, tail (ending with a newline), head, tail...
        slow, decoded, exponents = [], [], []
        types, metas, stamps = self.types, self.metas, self.stamps
        for index, (position, stream_id, version, topic, tail, meta, state) in enumerate(rows):
            if tail is None:  # not cut by the server: its state came along
                parts += (_decoded(position, stream_id, version, topic, state), b"\n")
                decoded.append(index)
                continue
            shaped = metas.get(meta)
            if shaped is None:
                shaped = self._shaped(meta)  # type: ignore[arg-type]
            stamp = stamps.get(topic)
            if stamp is None:
                stamp = self._stamp(topic)
            if shaped and stamp:
                tail = _in_current_version(tail, topic, stamp)  # type: ignore[assignment]
            if not shaped or tail is None:
                parts += (b"", b"\n")
                slow.append(index)
                continue
            # A number in exponent form has a sign: past the timestamp (which has some),
            # look for one at memchr speed, then at the candidates. (In the tail, UUIDs
            # are still hex: a dashed one has many an `e-`.)
            after = tail.index(b'"')
            if tail.find(b"-", after) >= 0 or tail.find(b"+", after) >= 0:
                exponents.append(index)
            kind = types.get(topic) or self._type(topic)
            parts += (_LINE % (position, stream_id.encode(), version, kind), tail)
        text = b"".join(parts)
        if text.count(b"\n") != len(rows):  # a raw newline (never written by the store)
            return self.page([_unspliced(row) if _broken(row) else row for row in rows])
        text = _unwrap(text)
        slow += [i for i in exponents if _exponent(rows[i][4])]  # type: ignore[arg-type]
        if _suspect(text):  # something on this page needs a closer look (rare)
            done = set(decoded) | set(slow)
            lines = text.split(b"\n")
            slow += [i for i, line in enumerate(lines[:-1]) if i not in done and _suspect(line)]
        return text, sorted(slow)

    def _shaped(self, meta: bytes) -> bool:
        if len(self.metas) > 4096:
            self.metas.clear()
            self.metas[None] = False
        shaped = self.metas[meta] = _META_SHAPE.fullmatch(meta) is not None
        return shaped

    def _stamp(self, topic: str) -> bytes:
        """How a state of the type's current version ends its data, when that is above 1
        (the library writes the version last): ``,"class_version":2``; else empty."""
        version = current_version(topic)
        stamp = version_stamp(version) if version > 1 else b""
        self.stamps[topic] = stamp
        return stamp

    def _type(self, topic: str) -> bytes:
        kind = self.types[topic] = _dumps(topic.rsplit(".", 1)[-1]).encode()
        return kind


def _broken(row: Row) -> bool:
    tail = row[4]
    return tail is not None and b"\n" in tail[:-1]


def _in_current_version(tail: bytes, topic: str, stamp: bytes) -> bytes | None:
    """The tail with its data in the type's current version (the export's data never says
    its version: it is always the current one), or None: decode it instead.

    At the current version the data ends with the version ``stamp``, which is cut. Stored
    at an older version (its own stamp cut too, from version 2 on), the data is upcast by
    the type's upcasters (``domain.versions``) and, when all they did was add members
    after the stored ones, those members are appended to the stored text. The data object
    ends just before the last ``},"metadata":{`` (the metadata after it holds only plain
    strings, and a quote inside a string is escaped); it starts after the timestamp's
    closing quote."""
    end = tail.rfind(b'},"metadata":{')
    if end < 0:
        return None
    if tail.endswith(stamp, 0, end):
        return tail[: end - len(stamp)] + tail[end:]
    stored = orjson.loads(tail[tail.index(b'"') + len(_DATA) : end + 1])
    version = stored_version(stored)
    if not 1 <= version < current_version(topic):
        return None  # a newer version, an odd version member, or the stamp not last
    members_end = end  # where the stored members end
    if version > 1:
        if not tail.endswith(version_stamp(version), 0, end):
            return None
        members_end -= len(version_stamp(version))
    state = upcast(topic, dict(stored))
    stored.pop(VERSION_KEY, None)
    names = list(state)
    if not stored or names[: len(stored)] != list(stored):
        return None
    if any(state[name] is not value for name, value in stored.items()):
        return None
    added = b"".join(_member(n, state[n]) for n in names[len(stored) :])
    return tail[:members_end] + added + tail[end:]


def version_stamp(version: int) -> bytes:
    """How the library ends a stored state's data from version 2 on (its last member)."""
    return b',"%s":%d' % (VERSION_KEY.encode(), version)


def _member(name: str, value: Any) -> bytes:
    """``,"name":value`` as the decoding export writes it; an upcaster's defaults repeat."""
    kind = type(value).__name__
    if kind in _SCALARS:
        return _scalar_member(name, value, kind)
    return b",%s:%s" % (_dumps(name).encode(), _dumps(value).encode())


@lru_cache(maxsize=256)
def _scalar_member(name: str, value: Any, _kind: str) -> bytes:  # the kind: True is not 1
    return b",%s:%s" % (_dumps(name).encode(), _dumps(value).encode())


_SCALARS = {"NoneType", "bool", "int", "str"}


def _unspliced(row: Row) -> Row:
    """The row as one to read again: a placeholder tail, a metadata object never shaped."""
    return (*row[:4], b"\n", None, None)  # type: ignore[return-value]


def _unwrap(text: bytes) -> bytes:
    text = _UUID.sub(_dash, text)
    if b'"_type_"' in text:
        text = _WRAPPER.sub(_unwrapped, text)
    return text


def _dash(match: re.Match[bytes]) -> bytes:
    return b'"%s-%s-%s-%s-%s"' % match.groups()


def _unwrapped(match: re.Match[bytes]) -> bytes:
    """Any other string-valued wrapper, as decode_transcoded reads it."""
    kind, data = match.groups()
    if orjson.loads(kind) == "uuid_hex":  # not 32 lower-case hex digits: the slow way
        return _dumps(_dashed(orjson.loads(data))).encode()
    return data


def _suspect(text: bytes) -> bool:
    """Could this spliced text differ from the decoded one? (A wrapper left, a tiny
    float, an escape json.dumps writes otherwise, an ``originator_topic`` elsewhere.)"""
    return (
        b'"_type_"' in text
        or b"0.0000" in text
        or b'"originator_topic"' in text
        or (b"\\" in text and _BAD_ESCAPE.search(text) is not None)
    )


def _exponent(line: bytes) -> bool:
    """A number in exponent form? Each `e-` and `e+` is looked at in its context."""
    for sign in (b"e-", b"e+", b"E-", b"E+"):
        at = line.find(sign)
        while at >= 0:
            if _EXPONENT.search(line, max(0, at - 40), at + 2):
                return True
            at = line.find(sign, at + 2)
    return False


def _with_decoded(conn: Connection[Any], text: bytes, slow: dict[int, Row]) -> bytes:
    """The page with its ``slow`` lines decoded from their stored rows, read again (in
    the export's snapshot)."""
    states = dict(conn.execute(_STATES, [[row[0] for row in slow.values()]]).fetchall())
    lines = text.split(b"\n")
    for index, (position, stream_id, version, topic, *_) in slow.items():
        lines[index] = _decoded(position, stream_id, version, topic, states[position])
    return b"\n".join(lines)


def _decoded(position: int, stream_id: str, version: int, topic: str, state: Any) -> bytes:
    record = event_record(position, UUID(stream_id), version, topic, bytes(state))
    return _dumps(record).encode()


def _dumps(value: Any) -> str:
    """The CLI's JSON encoding of a record (the format auditors already have)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
