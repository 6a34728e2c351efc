"""Decoding the log's JSON in SQL: the rare events' fields, and the reference for the rest.

The state column is the library's JSON; typed values are transcoded as
``{"_type_": "uuid_hex" | "datetime_iso" | "decimal_str", "_data_": "<text>"}``.
Each decoder below is the SQL expression reading one field of the current event ``e``
(``e.j`` is its state as jsonb). A batch is decoded once, when it is staged; the
projectors' statements read the staged columns as ``{placeholders}`` (``FIELDS``) and
the rarer events' other fields from ``e.j`` with these decoders. The frequent message
events are staged by the client instead (``projections.staging``), to the same columns
and values as these decoders give (a property test compares the two).
"""

from __future__ import annotations

from psycopg import sql

# jsonb refuses the escape \u0000 (valid JSON, e.g. in a generator's error text): the
# state is read with each escaped NUL replaced by U+FFFD, a visible stand-in. The pattern
# skips a backslash that is itself escaped (an even run of backslashes before it).
_NUL = r"'(?<!\\)((?:\\\\)*)\\u0000'"
_STAND_IN = r"'\1\\ufffd'"


def state_jsonb(column: str) -> str:
    """The bytea JSON state in ``column`` as jsonb."""
    text = f"convert_from({column}, 'UTF8')"
    return (
        rf"(CASE WHEN strpos({text}, '\u0000') > 0 THEN regexp_replace({text}, {_NUL},"
        f" {_STAND_IN}, 'g') ELSE {text} END)::jsonb"
    )


def transcoded(key: str, sql_type: str) -> str:
    """A transcoded value: its ``_data_`` text cast to the SQL type."""
    return f"(e.j -> '{key}' ->> '_data_')::{sql_type}"


def uuid_hex(key: str) -> str:
    return transcoded(key, "uuid")  # PostgreSQL reads 32 hex digits without hyphens


def datetime_iso(key: str) -> str:
    return transcoded(key, "timestamptz")


def decimal_str(key: str) -> str:
    return transcoded(key, "numeric")


def text(key: str) -> str:
    return f"(e.j ->> '{key}')"


def integer(key: str) -> str:
    return f"(e.j ->> '{key}')::int"


def count(key: str) -> str:
    """The size of a RunStarted list (``segments``, ``matched``, ``new``, ``orphaned``),
    recorded when the batch is staged (see ``projections.events``)."""
    return f"(e.j ->> '{key.removesuffix('s')}_count')::int"


# The fields staged as columns (see ``projections.events``), by their template names.
FIELDS: dict[str, sql.Composable] = {
    name: sql.SQL(f"e.{column}")  # type: ignore[arg-type]
    for name, column in {
        "ts": "ts",
        "run": "run",
        "key": "key",
        "message_id": "mid",
        "content": "content",
        "reason": "reason",
        "decision": "decision",
        "source": "source",
    }.items()
}
