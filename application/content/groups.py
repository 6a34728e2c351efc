"""Customer groups as the rerun commands need them: lookup and segment computation.

Segments are computed in SQL (a GROUP BY over the group's members and their profile
values), so a group of a million customers never passes through Python row by row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from psycopg import sql
from psycopg_pool import ConnectionPool

from domain.segments import Segment, SegmentValue, normalise_values, segment_key


@dataclass(frozen=True)
class CustomerGroup:
    customer_group_id: UUID
    account_id: UUID
    name: str


class GroupSegments:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def find_group(self, account_id: UUID, customer_group_id: UUID) -> CustomerGroup | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT customer_group_id, account_id, name FROM customer_groups "
                "WHERE customer_group_id = %s AND account_id = %s",
                (customer_group_id, account_id),
            ).fetchone()
        return CustomerGroup(*row) if row else None

    def field_names(self, account_id: UUID) -> set[str]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT name FROM customer_fields WHERE account_id = %s", (account_id,)
            ).fetchall()
        return {r[0] for r in rows}

    def segments(self, group: CustomerGroup, variables: Sequence[str]) -> list[Segment]:
        """One segment per distinct combination of the variables' values in the group."""
        columns = sql.SQL(", ").join(
            sql.SQL("c.fields -> {}").format(sql.Literal(v)) for v in variables
        )
        query = sql.SQL(
            "SELECT {columns}, count(*) FROM customer_group_members m "
            "JOIN customers c ON c.account_id = m.account_id AND c.external_id = m.external_id "
            "WHERE m.customer_group_id = %s GROUP BY {columns}"
        ).format(columns=columns)
        counts: dict[str, tuple[dict[str, SegmentValue], int]] = {}
        with self.pool.connection() as conn:
            for row in conn.execute(query, (group.customer_group_id,)):
                values = normalise_values(dict(zip(variables, row[:-1], strict=True)))
                key = segment_key(values)
                # Values that differ only before normalisation fall into one segment.
                previous = counts.get(key, (values, 0))[1]
                counts[key] = (values, previous + row[-1])
        return [Segment(key, dict(values), count) for key, (values, count) in counts.items()]
