"""Rebuilt read models equal the live ones row for row, after randomised histories."""

from __future__ import annotations

import contextlib
from functools import partial
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from application.row_security import account_connection, row_security_ddl
from domain.errors import DomainError
from projections.queries import ReadModels
from projections.rebuild import rebuild, verify
from projections.runner import ProjectionRunner
from tests.drive import finish_run
from tests.projection_helpers import create_campaign, rerun

pytestmark = pytest.mark.integration

PLANS = ["gold", "silver", "bronze", "tin"]
STEPS = ["finish", "finish_refusing_one", "approve_all", "reject_one", "edit_one",
         "regenerate_one", "publish", "rerun", "fail", "retry", "project"]  # fmt: skip
NEXT = {"Processing": "finish", "Ready for review": "approve_all", "Ready to publish": "publish",
        "Published": "rerun", "Failed": "retry"}  # fmt: skip
steps = st.sampled_from([*STEPS, *["advance"] * 25])
members = st.lists(
    st.fixed_dictionaries(
        {"plan": st.sampled_from(PLANS), "region": st.sampled_from(["EU", "US"])}
    ),
    min_size=1,
    max_size=6,
)


def run_step(step, data, commands, store, pool, account_id, campaign_id, runner) -> None:  # type: ignore[no-untyped-def]
    campaign = store.get_campaign(campaign_id)
    run = campaign.current_run
    active = sorted(m.message_id for m in run.active_messages()) if run else []
    target = {"account_id": account_id, "campaign_id": campaign_id}
    if step == "advance":  # the happy path's next step, so histories reach reruns
        step = NEXT[campaign.status]
    if step in ("finish", "finish_refusing_one"):
        refused = int(step == "finish_refusing_one")
        finish_run(store, campaign_id, content=f"v{campaign.version}", refused=refused)
    elif step == "approve_all":
        commands.review(**target, message_ids=None, decision="approve")
    elif step in ("reject_one", "edit_one", "regenerate_one") and active:
        message_id = data.draw(st.sampled_from(active))
        if step == "reject_one":
            commands.review(**target, message_ids=[message_id], decision="reject")
        elif step == "edit_one":
            commands.edit(**target, message_id=message_id, content=f"edit {campaign.version}")
        else:
            commands.regenerate(**target, message_id=message_id)
    elif step == "publish":
        commands.publish(**target)
    elif step == "rerun":
        rerun(commands, pool, account_id, campaign_id, data.draw(members))
    elif step == "fail" and campaign.fail_run(campaign.current_run_number, "boom"):
        store.save_campaign(campaign)
    elif step == "retry":
        commands.retry(**target)
    elif step == "project":
        runner.catch_up()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_rebuilt_read_models_equal_live_ones(data, commands, store, pool, db):  # type: ignore[no-untyped-def]
    runner = ProjectionRunner(pool, db.conninfo())
    runner.catch_up()
    start = store.max_position()
    account_id = uuid4()
    campaigns = [create_campaign(commands, pool, account_id, data.draw(members)) for _ in range(2)]
    for step in data.draw(st.lists(steps, min_size=15, max_size=40)):
        campaign_id = data.draw(st.sampled_from(campaigns))
        # A command the campaign's state refuses stores nothing.
        with contextlib.suppress(DomainError):
            run_step(step, data, commands, store, pool, account_id, campaign_id, runner)

    runner.catch_up()

    for campaign_id in campaigns:
        assert_read_model_mirrors_aggregate(
            store, ReadModels(partial(account_connection, pool)), account_id, campaign_id
        )
    assert verify(pool, after=start, campaign_ids=campaigns) == dict.fromkeys(
        [
            "rm_campaigns",
            "rm_runs",
            "rm_run_segments",
            "rm_messages",
            "rm_jobs",
            "rm_job_campaigns",
        ],
        0,
    )


def assert_read_model_mirrors_aggregate(store, views, account_id, campaign_id) -> None:  # type: ignore[no-untyped-def]
    campaign = store.get_campaign(campaign_id)
    row = views.campaign(account_id, campaign_id)
    assert (row.status, row.current_run_number) == (campaign.status, campaign.current_run_number)
    event(f"run {row.current_run_number} {row.status}")
    history = views.run_history(account_id, campaign_id)
    assert [r.is_current for r in history].count(True) == 1
    assert history[0].status == campaign.current_run.status
    page = views.run_messages(
        account_id, campaign_id, run_number=None, include_archived=True, page=1, page_size=500
    )
    expected = {
        m.message_id: (
            m.content,
            m.origin,
            m.status,
            m.review_status,
            m.approval_stage,
            m.archive_reason,
        )
        for m in campaign.current_run.messages.values()
    }
    actual = {
        m.message_id: (
            m.content,
            m.origin,
            m.status,
            m.review_status,
            m.approval_stage,
            m.archive_reason,
        )
        for m in page.items
    }
    assert actual == expected
    counted = sum(1 for m in page.items if not m.is_archived and m.status == "Approved")
    assert row.message_counts["Approved"] == counted


def test_rebuild_replaces_tables_with_equal_ones_and_keeps_serving(
    commands, store, pool, db, account_id
):
    runner = ProjectionRunner(pool, db.conninfo())
    campaign_id = create_campaign(commands, pool, account_id, [{"plan": "gold", "region": "EU"}])
    finish_run(store, campaign_id)
    runner.catch_up()
    views = ReadModels(partial(account_connection, pool))
    history = views.run_history(account_id, campaign_id)
    seen: list[int] = []

    position = rebuild(pool, progress=seen.append, secure=row_security_ddl())

    assert position == store.max_position() == runner.position()
    with pool.connection() as conn:
        logged = conn.execute("SELECT count(*) FROM nudgescribe_events").fetchone()[0]
    assert sum(seen) == logged  # every event read once (ids have gaps: rolled-back saves)
    assert views.run_history(account_id, campaign_id) == history
    assert set(verify(pool).values()) == {0}
    assert rebuild(pool, ["jobs"], secure=row_security_ddl()) == position
    assert views.job(account_id, history[0].job_uid) is not None
