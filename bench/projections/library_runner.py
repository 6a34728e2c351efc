"""The library's own way to project: ``eventsourcing.projection.ProjectionRunner`` with a
``PostgresTrackingRecorder`` view that writes one message-shaped row and its tracking
record per event, in one transaction each (the pattern the library documents).

It is the reference the catch-up is compared with: it is what the read models would cost
written the library's way, one event at a time.
"""

from __future__ import annotations

import time
from functools import singledispatchmethod
from typing import Any

import psycopg
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from psycopg.sql import SQL

from application.store import CampaignStore

_ROWS = "bench_library_rows"


class MessageRowsView(PostgresTrackingRecorder):
    def write(self, values: tuple[Any, ...], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(SQL(f"INSERT INTO {_ROWS} VALUES (%s, %s, %s, %s, %s)"), values)
            self._insert_tracking(cursor, tracking)


class MessageRows(Projection[MessageRowsView]):
    name = "bench_library"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.write(
            (
                domain_event.originator_id,
                tracking.notification_id,
                type(domain_event).__name__,
                getattr(domain_event, "content", None),
                domain_event.timestamp,
            ),
            tracking,
        )


def events_per_second(conninfo: str, env: dict[str, str], events: int) -> float:
    """Project the log's first ``events`` events the library's way; events/s."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {_ROWS} (campaign_id uuid, position bigint,"
            " type text, content text, created_at timestamptz, PRIMARY KEY (position))"
        )
    env = {**env, "CREATE_TABLE": "y"}
    started = time.perf_counter()
    with ProjectionRunner(
        application_class=CampaignStore,
        projection_class=MessageRows,
        view_class=MessageRowsView,
        env=env,
    ) as runner:
        runner.wait(events, timeout=600)
        elapsed = time.perf_counter() - started
        done = runner.view.max_tracking_id(runner.app_name) or 0
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"DROP TABLE {_ROWS}")
        conn.execute(f"DROP TABLE {MessageRows.name}_tracking")
    return done / elapsed
