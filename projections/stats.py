"""Operational figures from the read models, for ``/metrics``."""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg_pool import ConnectionPool

from projections.reader import EVENTS_TABLE
from projections.schema import JOBS

_EVENTS = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(EVENTS_TABLE))
_PHASES = sql.SQL("SELECT phase, count(*) FROM {} GROUP BY phase").format(sql.Identifier(JOBS))


def job_phase_counts(pool: ConnectionPool[Any]) -> dict[str, int]:
    """Jobs by phase (Queued, Copying, ..., Completed, Failed): one aggregate over rm_jobs."""
    with pool.connection() as conn:
        return {str(phase): int(n) for phase, n in conn.execute(_PHASES).fetchall()}


def event_count(pool: ConnectionPool[Any]) -> int:
    """Events in the log (a rebuild reads them all): for a progress bar's total."""
    with pool.connection() as conn:
        row = conn.execute(_EVENTS).fetchone()
    return int(row[0]) if row else 0
