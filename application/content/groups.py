"""Customer groups as the rerun commands need them: lookup and segment computation.

Segments are computed in SQL (a GROUP BY over the group's members and their profile
values), so a group of a million customers never passes through Python row by row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import orjson
from psycopg import sql
from psycopg_pool import ConnectionPool

from application.row_security import account_connection
from domain.segments import Segment, SegmentValue, normalise_values, segment_key


@dataclass(frozen=True)
class CustomerGroup:
    customer_group_id: UUID
    account_id: UUID
    name: str


_AGGREGATE_SETTINGS = "SET LOCAL work_mem = '64MB'; SET LOCAL jit = off"


class GroupSegments:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def find_group(self, account_id: UUID, customer_group_id: UUID) -> CustomerGroup | None:
        with account_connection(self.pool, account_id) as conn:
            row = conn.execute(
                "SELECT customer_group_id, account_id, name FROM customer_groups "
                "WHERE customer_group_id = %s AND account_id = %s",
                (customer_group_id, account_id),
            ).fetchone()
        return CustomerGroup(*row) if row else None

    def field_names(self, account_id: UUID) -> set[str]:
        with account_connection(self.pool, account_id) as conn:
            rows = conn.execute(
                "SELECT name FROM customer_fields WHERE account_id = %s", (account_id,)
            ).fetchall()
        return {r[0] for r in rows}

    def field_types(self, account_id: UUID) -> dict[str, str]:
        with account_connection(self.pool, account_id) as conn:
            rows = conn.execute(
                "SELECT name, type FROM customer_fields WHERE account_id = %s", (account_id,)
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    def segments(self, group: CustomerGroup, variables: Sequence[str]) -> list[Segment]:
        """One segment per distinct combination of the variables' values in the group.

        One scan of the group's members (they carry their customer's fields, see
        content/schema.py) into an in-memory hash aggregate: enough work_mem that a
        million members never sort on disk, and no JIT (its compile time outweighs its
        gain here). Values are grouped as text (``->>``, cheaper to hash and compare than
        jsonb), which is exact because every value of a field has the field's declared type or
        is null (uploads and retyping enforce it); a variable that is not a declared
        field is grouped as jsonb.
        """
        types = self.field_types(group.account_id)
        # Names are parameters, never text in the statement (a field may be called "50%"
        # or "%s"); the GROUP BY names its columns by position for the same reason.
        columns = sql.SQL(", ").join(
            sql.SQL("fields ->> %s::text" if v in types else "fields -> %s::text")
            for v in variables
        )
        query = sql.SQL(
            "SELECT {columns}, count(*) FROM customer_group_members "
            "WHERE customer_group_id = %s AND fields IS NOT NULL GROUP BY {positions}"
        ).format(
            columns=columns,
            positions=sql.SQL(", ").join(sql.Literal(i + 1) for i in range(len(variables))),
        )
        decoders = [_TEXT_DECODERS.get(types.get(v, ""), _as_is) for v in variables]
        counts: dict[str, tuple[dict[str, SegmentValue], int]] = {}
        with account_connection(self.pool, group.account_id) as conn:
            conn.execute(_AGGREGATE_SETTINGS)
            for row in conn.execute(query, (*variables, group.customer_group_id)):
                raw = {v: decode(x) for v, decode, x in zip(variables, decoders, row, strict=False)}
                values = normalise_values(raw)
                key = segment_key(values)
                # Values that differ only before normalisation fall into one segment.
                previous = counts.get(key, (values, 0))[1]
                counts[key] = (values, previous + row[-1])
        return [Segment(key, dict(values), count) for key, (values, count) in counts.items()]


def _as_is(value: object) -> object:
    return value


def _number(text: str | None) -> object:
    return None if text is None else orjson.loads(text)


def _boolean(text: str | None) -> object:
    return None if text is None else text == "true"


_TEXT_DECODERS = {"string": _as_is, "number": _number, "boolean": _boolean}
