"""The recorders' reads fail at once: what ``application.recorder`` relies on in the library.

The library decorates its reads with ``eventsourcing.utils.retry`` (ten attempts, each
waiting for the pool: about half a minute while the database is down). The recorders take
the undecorated read from the decorator's ``__wrapped__``; these tests pin both halves, so
a library upgrade that changes either fails here rather than in a 503 test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import OperationalError
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL

from application.recorder import CampaignEventRecorder, SnapshotRecorder

pytestmark = pytest.mark.unit


class DownDatastore:
    """A datastore whose every connection attempt fails as a stopped server does."""

    schema = "public"

    def __init__(self) -> None:
        self.attempts = 0

    @contextmanager
    def get_connection(self) -> Iterator[Any]:
        self.attempts += 1
        raise OperationalError("connection refused")
        yield  # pragma: no cover


def recorder_on(datastore: DownDatastore) -> Any:
    return SimpleNamespace(
        datastore=datastore,
        events_table_name="events",
        select_events_statement=SQL("SELECT 1"),
        max_notification_id_statement=SQL("SELECT 1"),
    )


READS: dict[str, Callable[[Any], object]] = {
    "select_events": lambda read: read(uuid4()),
    "select_notifications": lambda read: read(1, 10),
    "max_notification_id": lambda read: read(),
}


@pytest.mark.parametrize("name", list(READS))
def test_the_library_retries_its_reads(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setattr("eventsourcing.utils.sleep", lambda _: None)
    datastore = DownDatastore()
    read = getattr(PostgresApplicationRecorder, name)

    with pytest.raises(OperationalError):
        READS[name](lambda *args: read(recorder_on(datastore), *args))

    assert datastore.attempts == 10


@pytest.mark.parametrize(
    ("recorder", "name"),
    [(CampaignEventRecorder, name) for name in READS] + [(SnapshotRecorder, "select_events")],
)
def test_the_recorders_read_once(recorder: type, name: str) -> None:
    datastore = DownDatastore()
    read = getattr(recorder, name)

    with pytest.raises(OperationalError):
        READS[name](lambda *args: read(recorder_on(datastore), *args))

    assert datastore.attempts == 1
