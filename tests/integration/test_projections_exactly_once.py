"""Exactly once, gap safety, read-your-writes and the single active runner."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

from projections.campaign_runs import CampaignRunsProjector
from projections.projector import ProjectionSet, Projector
from projections.rebuild import verify
from projections.registry import build_projectors
from projections.runner import ProjectionRunner
from projections.schema import POSITIONS, read_model_ddl
from tests.drive import finish_run
from tests.projection_helpers import create_campaign, customers

pytestmark = pytest.mark.integration
TIMEOUT = 30.0


@pytest.fixture
def runner(pool, db):  # type: ignore[no-untyped-def]
    runner = ProjectionRunner(pool, db.conninfo(), poll_interval=0.1)
    yield runner
    runner.stop()


def wait_until(condition: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    """Poll a condition (a synchronisation point, never an assertion about time)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def count(pool, query: str, *params: Any) -> int:  # type: ignore[no-untyped-def]
    with pool.connection() as conn:
        return int(conn.execute(query, params).fetchone()[0])


class _FailingAfterWrites(CampaignRunsProjector):
    """The live projector, failing once it has written a window holding ``event_type``."""

    def __init__(self, event_type: str, fail: Callable[[Any], None]) -> None:
        super().__init__()
        self.event_type, self.fail = event_type, fail

    def project(self, cur: Any, events: Any) -> None:
        super().project(cur, events)
        if any(event.type == self.event_type for event in events):
            self.fail(cur)


def failing_set(event_type: str, fail: Callable[[Any], None], batch_size: int) -> ProjectionSet:
    """The live projectors, the first failing after its writes of ``event_type``."""
    projectors = [_FailingAfterWrites(event_type, fail), *build_projectors()[1:]]
    return ProjectionSet(projectors, batch_size=batch_size)


def raise_error(_cur: Any) -> None:
    raise RuntimeError("crash mid-batch")


def kill_own_backend(cur: Any) -> None:
    cur.execute("SELECT pg_terminate_backend(pg_backend_pid())")


@pytest.mark.parametrize(
    ("fail", "error"),
    [(raise_error, RuntimeError), (kill_own_backend, psycopg.OperationalError)],
    ids=["exception", "connection-killed"],
)
@pytest.mark.parametrize("batch_size", [500, 3])
def test_crash_mid_batch_loses_nothing_and_doubles_nothing(
    commands, store, pool, account_id, runner, fail, error, batch_size
):
    runner.catch_up()
    start = runner.position()
    campaign_id = create_campaign(commands, pool, account_id, customers(("a", "EU"), ("b", "EU")))
    finish_run(store, campaign_id)
    before = runner.position()

    with pytest.raises(error):
        failing_set("RunFinalised", fail, batch_size).catch_up(pool)

    crashed_at = runner.position()
    assert crashed_at < store.max_position()
    messages = "SELECT count(*) FROM rm_messages WHERE campaign_id = %s"
    # 5 events: Created, RunStarted, Generated x2, RunFinalised. In batches of 3 the first
    # batch (one message) committed; the batch holding RunFinalised rolled back whole.
    assert count(pool, messages, campaign_id) == (0 if batch_size == 500 else 1)
    assert (crashed_at == before) == (batch_size == 500)
    runner.catch_up()
    assert count(pool, messages, campaign_id) == 2
    assert count(pool, "SELECT count(*) FROM rm_runs WHERE campaign_id = %s", campaign_id) == 1
    assert set(verify(pool, after=start, campaign_ids=[campaign_id]).values()) == {0}


def test_an_append_waiting_behind_an_open_one_is_never_skipped(
    commands, store, pool, account_id, runner
):
    first = create_campaign(commands, pool, account_id, customers(("a", "EU")))
    second = create_campaign(commands, pool, account_id, customers(("b", "EU")))
    finish_run(store, first)
    finish_run(store, second)
    runner.catch_up()
    before = runner.position()
    inserted, release = threading.Event(), threading.Event()
    held_ids: list[int] = []

    def hold_open(_cur, notification_ids):  # type: ignore[no-untyped-def]
        held_ids.extend(notification_ids)
        inserted.set()
        assert release.wait(TIMEOUT)

    def approve(campaign_id, also_write=None):  # type: ignore[no-untyped-def]
        campaign = store.get_campaign(campaign_id)
        campaign.review(message_ids=None, decision="approve", reviewed_by="r")
        store.save_campaign(campaign, also_write=also_write)

    holder = threading.Thread(target=approve, args=(first, hold_open))
    waiter = threading.Thread(target=approve, args=(second,))
    holder.start()
    assert inserted.wait(TIMEOUT)  # the holder has its ids and the table lock
    waiter.start()
    waiting_on_lock = (
        "SELECT count(*) FROM pg_locks WHERE NOT granted"
        " AND relation = 'nudgescribe_events'::regclass"
    )
    assert wait_until(lambda: count(pool, waiting_on_lock) == 1)

    runner.catch_up()
    assert runner.position() == before < min(held_ids)

    release.set()
    holder.join(TIMEOUT)
    waiter.join(TIMEOUT)
    runner.catch_up()

    assert runner.position() == store.max_position() > max(held_ids)
    approved = (
        "SELECT count(*) FROM rm_messages WHERE campaign_id = ANY(%s) AND status = 'Approved'"
    )
    assert count(pool, approved, [first, second]) == 2


def test_wait_for_returns_once_the_background_runner_has_projected(
    commands, pool, account_id, runner
):
    runner.start()
    campaign_id = create_campaign(commands, pool, account_id, customers(("a", "EU")))
    position = store_position(pool)

    assert runner.wait_for(position, timeout=TIMEOUT)

    query = "SELECT count(*) FROM rm_runs WHERE campaign_id = %s"
    assert count(pool, query, campaign_id) == 1


def store_position(pool) -> int:  # type: ignore[no-untyped-def]
    return count(pool, "SELECT COALESCE(max(notification_id), 0) FROM nudgescribe_events")


def test_wait_for_gives_up_at_its_timeout(runner):
    runner.catch_up()
    assert runner.wait_for(runner.position() + 10**9, timeout=0.05) is False


def test_only_one_runner_projects_and_another_takes_over(pool, db, commands, account_id):
    first = ProjectionRunner(pool, db.conninfo(), poll_interval=0.1)
    second = ProjectionRunner(pool, db.conninfo(), poll_interval=0.1)
    try:
        first.start()
        assert wait_until(lambda: first.is_leader)
        second.start()
        assert wait_until(lambda: second.lock_attempts >= 2)
        assert not second.is_leader

        first.stop()
        assert wait_until(lambda: second.is_leader)
        create_campaign(commands, pool, account_id, customers(("a", "EU")))
        assert second.wait_for(store_position(pool), timeout=TIMEOUT)
        assert not first.is_leader
    finally:
        first.stop()
        second.stop()


def test_status_reports_position_and_lag(commands, pool, account_id, runner):
    runner.catch_up()
    assert {(s.lag_events, s.lag_seconds) for s in runner.status()} == {(0, 0.0)}

    create_campaign(commands, pool, account_id, customers(("a", "EU")))
    lagging = runner.status()
    runner.catch_up()

    assert {s.name for s in lagging} == {"campaign_runs", "jobs"}
    assert all(s.lag_events >= 2 and s.lag_seconds >= 0 for s in lagging)
    assert {(s.position, s.lag_events) for s in runner.status()} == {(store_position(pool), 0)}


class _SettingProbe(Projector):
    """Records the session's synchronous_commit while it applies a batch."""

    name = "setting_probe"
    tables: ClassVar[tuple[Any, ...]] = ()
    handlers: ClassVar[dict[str, Any]] = {}

    def __init__(self, schema: str | None = None) -> None:
        super().__init__(schema)
        self.seen: list[str] = []

    def project(self, cur: Any, events: Any) -> None:
        self.seen.append(cur.execute("SHOW synchronous_commit").fetchone()[0])


def test_a_batch_commits_without_waiting_for_the_disk(pool, commands, store):  # type: ignore[no-untyped-def]
    # Its rows and position are one transaction: a server crash can only lose them together.
    # The session's own setting is left as it was.
    start = store.max_position()
    create_campaign(commands, pool, uuid4(), customers(("plan", "gold")))
    schema = f"rm_probe_{uuid4().hex[:8]}"
    probe = _SettingProbe(schema)
    with pool.connection() as conn:
        for statement in read_model_ddl(schema, [POSITIONS]):
            conn.execute(statement)
        conn.commit()
        projections = ProjectionSet([probe], schema=schema)
        with conn.transaction(), conn.cursor() as cur:
            projections.lock_positions(cur)
            projections.set_position(cur, start)
        before = conn.execute("SHOW synchronous_commit").fetchone()[0]  # type: ignore[index]
        conn.commit()
        projections.catch_up_on(conn)
        after = conn.execute("SHOW synchronous_commit").fetchone()[0]  # type: ignore[index]
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        conn.commit()
    assert probe.seen == ["off"]
    assert before == after == "on"
