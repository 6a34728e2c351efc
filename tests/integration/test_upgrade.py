"""Upgrades happen in place: a database the previous landed version wrote keeps working after
the current code's ``migrate``.

Each ``tests/fixtures/upgrade/<commit>.sql`` is a database written by the code at <commit>
(``make_fixture.py`` beside it says how): two campaigns through reruns, reviews, a failed
and retried run and a run part-way through, with the read models projected by that code
up to a position short of the log's head. Loaded into a fresh database and migrated, the
old read-model rows must equal what the current projectors fold from the same log, the
projectors must catch up from where the old ones stopped, the queries must answer, new
commands must work on the old campaigns, and the log itself must be left as it was.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from application.audit import verify_chains
from application.campaigns import CampaignCommands
from application.content.groups import GroupSegments
from application.database import ConnectionInfo, open_pool
from application.idempotency_records import IdempotencyRecords
from application.metadata import CommandContext
from application.migrate import migrate
from application.row_security import account_connection, row_security_ddl
from application.store import CampaignStore, store_env
from projections.queries import ReadModels
from projections.rebuild import verify
from projections.runner import ProjectionRunner
from projections.schema import READ_MODEL_DDL
from tests.dbserver import throwaway_database
from tests.fixtures.upgrade.make_fixture import AUTUMN, SPRING
from tests.processing import generators, make_processor
from tests.projection_helpers import rerun

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "upgrade"
DUMPS = sorted(FIXTURES.glob("*.sql"))
READ_MODEL_TABLES = ["rm_campaigns", "rm_runs", "rm_run_segments", "rm_messages", "rm_jobs",
                     "rm_job_campaigns"]  # fmt: skip
NO_DIFFERENCES = dict.fromkeys(READ_MODEL_TABLES, 0)
_EVENT_ROWS = (
    "SELECT notification_id, originator_id, originator_version, topic, state, chain_hash"
    " FROM nudgescribe_events WHERE notification_id <= %s ORDER BY notification_id"
)


@dataclass
class Upgraded:
    info: ConnectionInfo
    pool: ConnectionPool  # type: ignore[type-arg]
    store: CampaignStore
    log: list[tuple[Any, ...]]  # the fixture's event rows, read before migrating

    @property
    def account_id(self) -> UUID:
        return self.store.get_campaign(SPRING).account_id  # type: ignore[no-any-return]

    def log_now(self) -> list[tuple[Any, ...]]:
        """The rows at the fixture's positions, as they are now."""
        return event_rows(self.info, upto=self.log[-1][0])


def event_rows(info: ConnectionInfo, upto: int | None = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(info.conninfo()) as conn:
        return conn.execute(_EVENT_ROWS, (2**63 - 1 if upto is None else upto,)).fetchall()


def load(info: ConnectionInfo, dump: Path) -> None:
    # Its own connection: the dump empties the session's search_path. The account role
    # first, as the old version's migrate left it on its server (roles are not dumped).
    with psycopg.connect(info.conninfo()) as conn:
        conn.execute(row_security_ddl()[0])
        conn.execute(dump.read_text())  # type: ignore[call-overload]


@pytest.fixture(params=DUMPS, ids=[d.stem for d in DUMPS])
def upgraded(request: pytest.FixtureRequest, pg_server_url: str) -> Iterator[Upgraded]:
    with throwaway_database(pg_server_url, prefix="nudgescribe_upgrade") as info:
        load(info, request.param)
        log = event_rows(info)
        pool = open_pool(info, max_size=4, name="nudgescribe-upgrade")
        try:
            migrate(info, pool, extra_ddl=READ_MODEL_DDL)  # what serve and the processor run first
            store = CampaignStore(store_env(info, pool_size=2))
            try:
                yield Upgraded(info, pool, store, log)
            finally:
                store.close()
        finally:
            pool.close()


def assert_log_kept(upgraded: Upgraded) -> None:
    """The fixture's events are untouched and every chain, old and continued, still holds."""
    assert upgraded.log_now() == upgraded.log
    with psycopg.connect(upgraded.info.conninfo()) as conn:
        checked, problems = verify_chains(conn)
    assert problems == []
    assert checked == len(event_rows(upgraded.info))


def history(views: ReadModels, account_id: UUID, campaign_id: UUID) -> list[tuple[Any, ...]]:
    rows = views.run_history(account_id, campaign_id)
    assert rows is not None
    return [
        (r.run_number, r.segment_count, r.status, r.comparison_summary, r.is_current) for r in rows
    ]


def messages(views: ReadModels, account_id: UUID, campaign_id: UUID, run: int | None) -> list:  # type: ignore[type-arg]
    page = views.run_messages(
        account_id, campaign_id, run_number=run, include_archived=False, page=1, page_size=100
    )
    assert page is not None
    assert page.total == len(page.items)
    return page.items


def summary(views: ReadModels, account_id: UUID, campaign_id: UUID, run: int | None) -> Counter:  # type: ignore[type-arg]
    """(origin, status, archive reason) of a run's messages, counted."""
    items = messages(views, account_id, campaign_id, run)
    return Counter((m.origin, m.status, m.archive_reason) for m in items)


def assert_mirrors_aggregate(upgraded: Upgraded, views: ReadModels, campaign_id: UUID) -> None:
    """The read model agrees with the campaign the current code loads (old snapshots and
    all) on its status and every message of its current run."""
    campaign = upgraded.store.get_campaign(campaign_id)
    row = views.campaign(upgraded.account_id, campaign_id)
    assert row is not None
    assert (row.status, row.current_run_number) == (campaign.status, campaign.current_run_number)

    def state(m: Any) -> tuple[Any, ...]:
        fields = ("content", "origin", "copied_from_message_id", "status", "review_status",
                  "approval_stage", "archive_reason")  # fmt: skip
        return tuple(getattr(m, f) for f in fields)

    expected = {m.message_id: state(m) for m in campaign.current_run.messages.values()}
    actual = {m.message_id: state(m) for m in messages(views, row.account_id, campaign_id, None)}
    assert actual == expected


def test_old_read_models_equal_the_new_fold_and_catch_up(upgraded: Upgraded) -> None:
    runner = ProjectionRunner(upgraded.pool, upgraded.info.conninfo())
    head = upgraded.log[-1][0]
    left_at = runner.position()
    assert 0 < left_at < head, "the fixture leaves events for the new projectors to catch up"

    # Up to where the old projectors stopped, their rows are what the new fold writes.
    assert verify(upgraded.pool) == NO_DIFFERENCES

    assert runner.catch_up() == sum(1 for row in upgraded.log if row[0] > left_at)
    assert runner.position() == head
    assert verify(upgraded.pool) == NO_DIFFERENCES

    views, account_id = ReadModels(partial(account_connection, upgraded.pool)), upgraded.account_id
    published, superseded = ("Published", None), ("Published", "superseded")
    assert history(views, account_id, SPRING) == [
        (2, 12, "Published", {"matched": 7, "new": 5, "orphaned": 4}, True),
        (1, 11, "Superseded", {"matched": 0, "new": 11, "orphaned": 0}, False),
    ]
    # One copy was regenerated (a generated message now); one regeneration failed (still
    # the copy).
    assert summary(views, account_id, SPRING, None) == {
        ("copied", *published): 6,
        ("generated", *published): 6,
    }
    assert summary(views, account_id, SPRING, 1) == {
        ("generated", *superseded): 7,
        ("generated", "Published", "orphaned"): 4,
    }
    assert history(views, account_id, AUTUMN) == [
        (2, 10, "Processing", {"matched": 6, "new": 4, "orphaned": 4}, True),
        (1, 10, "Superseded", {"matched": 0, "new": 10, "orphaned": 0}, False),
    ]
    # Copies (one rejected while the run had failed) and three of four new messages; the
    # orphans are not archived yet.
    assert summary(views, account_id, AUTUMN, None) == {
        ("copied", "Approved", None): 5,
        ("copied", "Rejected", None): 1,
        ("generated", "Ready for review", None): 3,
    }
    assert summary(views, account_id, AUTUMN, 1) == {("generated", *superseded): 10}
    job = views.job(account_id, views.run_history(account_id, AUTUMN)[0].job_uid)  # type: ignore[index]
    assert job is not None
    assert (job.phase, job.copied, job.generated, job.archived) == ("Generating", 6, 3, 0)
    assert job.failed == 0  # a column added since: old rows hold what the fold gives
    for campaign_id in (SPRING, AUTUMN):
        assert_mirrors_aggregate(upgraded, views, campaign_id)

    assert_log_kept(upgraded)


# Spring's third run: ten of run 2's segments (two leave), and one new.
RUN_3 = [
    *[{"plan": p, "region": r} for p in ("gold", "silver") for r in ("EU", "US")],
    {"plan": "bronze", "region": "EU"}, {"plan": "tin"}, {"plan": "gold"},
    {"plan": "tin", "region": "EU"}, {"plan": "tin", "region": "US"},
    {"plan": "platinum", "region": "EU"}, {"plan": "copper", "region": "EU"},
]  # fmt: skip


def test_new_commands_continue_old_campaigns(upgraded: Upgraded) -> None:
    runner = ProjectionRunner(upgraded.pool, upgraded.info.conninfo())
    runner.catch_up()
    store, pool, account_id = upgraded.store, upgraded.pool, upgraded.account_id
    commands = CampaignCommands(store, GroupSegments(pool), IdempotencyRecords(pool))
    processor = make_processor(store, pool, upgraded.info, generators())
    context = CommandContext.for_request(user_id="u-new", account_id=account_id, ip="10.3.3.3")

    # Autumn's queued job, left by the old processor's queue, is finished by the new one.
    processor.run_until_idle()
    commands.review(account_id=account_id, campaign_id=AUTUMN, message_ids=None,
                    decision="approve", context=context)  # fmt: skip
    commands.publish(account_id=account_id, campaign_id=AUTUMN, context=context)
    # Spring, published by the old code, reruns on a changed group.
    rerun(commands, pool, account_id, SPRING, RUN_3)
    processor.run_until_idle()
    commands.review(account_id=account_id, campaign_id=SPRING, message_ids=None,
                    decision="approve", context=context)  # fmt: skip
    commands.publish(account_id=account_id, campaign_id=SPRING, context=context)

    runner.catch_up()
    assert runner.position() == event_rows(upgraded.info)[-1][0]
    assert verify(upgraded.pool) == NO_DIFFERENCES

    views = ReadModels(partial(account_connection, pool))
    assert history(views, account_id, AUTUMN)[0] == (
        2, 10, "Published", {"matched": 6, "new": 4, "orphaned": 4}, True
    )  # fmt: skip
    assert summary(views, account_id, AUTUMN, None) == {
        ("copied", "Published", None): 6,
        ("generated", "Published", None): 4,
    }
    assert summary(views, account_id, AUTUMN, 1) == {
        ("generated", "Published", "superseded"): 6,
        ("generated", "Published", "orphaned"): 4,
    }
    assert [run[:4] for run in history(views, account_id, SPRING)] == [
        (3, 11, "Published", {"matched": 10, "new": 1, "orphaned": 2}),
        (2, 12, "Superseded", {"matched": 7, "new": 5, "orphaned": 4}),
        (1, 11, "Superseded", {"matched": 0, "new": 11, "orphaned": 0}),
    ]
    assert summary(views, account_id, SPRING, None) == {
        ("copied", "Published", None): 10,
        ("generated", "Published", None): 1,
    }
    for campaign_id in (SPRING, AUTUMN):
        assert_mirrors_aggregate(upgraded, views, campaign_id)

    assert_log_kept(upgraded)
