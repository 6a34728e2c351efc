"""Read models on real PostgreSQL: what the queries answer through a campaign's life."""

from __future__ import annotations

from functools import partial
from uuid import uuid4

import pytest

from application.row_security import account_connection
from domain.errors import RunNotFound
from projections.queries import ReadModels
from projections.runner import ProjectionRunner
from tests.drive import approve_and_publish, finish_run
from tests.projection_helpers import create_campaign, customers, rerun

pytestmark = pytest.mark.integration


@pytest.fixture
def runner(pool, db):  # type: ignore[no-untyped-def]
    runner = ProjectionRunner(pool, db.conninfo(), poll_interval=0.2)
    yield runner
    runner.stop()


@pytest.fixture
def views(pool) -> ReadModels:  # type: ignore[no-untyped-def]
    return ReadModels(partial(account_connection, pool))


def test_new_campaign_has_one_processing_run_and_a_queued_job(
    commands, pool, account_id, runner, views
):
    members = customers(("gold", "EU"), each=3) + customers(("silver", "US"))
    campaign_id = create_campaign(commands, pool, account_id, members)

    runner.catch_up()

    (run,) = views.run_history(account_id, campaign_id)
    assert run.run_number == 1
    assert run.is_current
    assert run.status == "Processing"
    assert run.segment_count == 2
    assert run.completed_at is None
    assert run.comparison_summary == {"matched": 0, "new": 2, "orphaned": 0}
    assert (run.initiated_by, run.initiated_from_ip) == ("u-1", "10.1.2.3")
    campaign = views.campaign(account_id, campaign_id)
    assert campaign.status == "Processing"
    assert campaign.current_run_number == 1
    assert campaign.segment_variables == ["plan", "region"]
    job = views.job(account_id, run.job_uid)
    assert (job.phase, job.total, job.copied + job.generated + job.archived) == ("Queued", 2, 0)


def test_finished_run_lists_generated_messages_for_review(
    commands, store, pool, account_id, runner, views
):
    members = customers(("gold", "EU"), each=3) + customers(("silver", "US"))
    campaign_id = create_campaign(commands, pool, account_id, members)
    finish_run(store, campaign_id)

    runner.catch_up()

    page = views.run_messages(
        account_id, campaign_id, run_number=None, include_archived=False, page=1, page_size=100
    )
    assert page.total == 2
    assert [m.segment_key for m in page.items] == sorted(m.segment_key for m in page.items)
    by_plan = {m.segment["plan"]: m for m in page.items}
    assert by_plan["gold"].customer_count == 3
    assert by_plan["silver"].customer_count == 1
    assert {(m.origin, m.status, m.review_status, m.approval_stage) for m in page.items} == {
        ("generated", "Ready for review", "Pending", "Generated")
    }
    campaign = views.campaign(account_id, campaign_id)
    assert campaign.status == "Ready for review"
    assert campaign.message_counts == {
        "Ready for review": 2,
        "Approved": 0,
        "Rejected": 0,
        "Published": 0,
    }
    (run,) = views.run_history(account_id, campaign_id)
    assert run.status == "Ready for review"
    assert run.completed_at is not None
    job = views.job(account_id, run.job_uid)
    assert (job.phase, job.generated, job.copied, job.archived) == ("Completed", 2, 0, 0)


def test_rerun_copies_matched_and_archives_the_previous_run(
    commands, store, pool, account_id, runner, views
):
    campaign_id = create_campaign(
        commands, pool, account_id, customers(("gold", "EU"), ("silver", "EU"))
    )
    finish_run(store, campaign_id)
    approve_and_publish(store, campaign_id)
    rerun(commands, pool, account_id, campaign_id, customers(("gold", "EU"), ("new", "EU")))
    runner.catch_up()
    superseded = views.run_messages(
        account_id, campaign_id, run_number=1, include_archived=False, page=1, page_size=10
    )
    assert {(m.archive_reason, m.is_archived) for m in superseded.items} == {("superseded", True)}

    finish_run(store, campaign_id, content="Fresh")
    runner.catch_up()

    history = views.run_history(account_id, campaign_id)
    assert [r.run_number for r in history] == [2, 1]
    assert [r.is_current for r in history] == [True, False]
    assert [r.status for r in history] == ["Ready for review", "Superseded"]
    assert history[0].comparison_summary == {"matched": 1, "new": 1, "orphaned": 1}
    assert (history[0].initiated_by, history[0].initiated_from_ip) == ("u-2", "10.9.9.9")
    current = views.run_messages(
        account_id, campaign_id, run_number=None, include_archived=False, page=1, page_size=10
    )
    by_plan = {m.segment["plan"]: m for m in current.items}
    assert by_plan["gold"].origin == "copied"
    assert by_plan["gold"].status == "Approved"
    assert by_plan["gold"].copied_from_message_id is not None
    assert by_plan["new"].origin == "generated"
    run_one = views.run_messages(
        account_id, campaign_id, run_number=1, include_archived=False, page=1, page_size=10
    )
    reasons = {m.segment["plan"]: m.archive_reason for m in run_one.items}
    assert reasons == {"gold": "superseded", "silver": "orphaned"}
    assert all(m.archived_at == superseded.items[0].archived_at for m in run_one.items)
    assert all(m.published_at is not None for m in run_one.items)
    job = views.job(account_id, history[0].job_uid)
    assert (job.phase, job.copied, job.generated, job.archived, job.total) == (
        "Completed",
        1,
        1,
        1,
        3,
    )


def test_review_edit_regenerate_and_publish_move_statuses(
    commands, store, pool, account_id, runner, views
):
    campaign_id = create_campaign(
        commands, pool, account_id, customers(("gold", "EU"), ("silver", "EU"))
    )
    finish_run(store, campaign_id)
    runner.catch_up()
    gold, silver = views.run_messages(
        account_id, campaign_id, run_number=None, include_archived=False, page=1, page_size=10
    ).items

    commands.review(
        account_id=account_id, campaign_id=campaign_id, message_ids=None, decision="approve"
    )
    runner.catch_up()
    assert views.campaign(account_id, campaign_id).status == "Ready to publish"

    commands.edit(
        account_id=account_id, campaign_id=campaign_id, message_id=gold.message_id, content="New"
    )
    commands.review(
        account_id=account_id,
        campaign_id=campaign_id,
        message_ids=[silver.message_id],
        decision="reject",
    )
    runner.catch_up()
    edited, rejected = views.run_messages(
        account_id, campaign_id, run_number=None, include_archived=False, page=1, page_size=10
    ).items
    assert (edited.content, edited.status, edited.approval_stage) == (
        "New",
        "Ready for review",
        "Reviewed",
    )
    assert (rejected.status, rejected.review_status, rejected.approval_stage) == (
        "Rejected",
        "Rejected",
        "Reviewed",
    )
    assert views.run_history(account_id, campaign_id)[0].status == "Ready for review"

    commands.regenerate(account_id=account_id, campaign_id=campaign_id, message_id=gold.message_id)
    finish_run(store, campaign_id, content="Again")  # generates the regenerating message only
    commands.review(
        account_id=account_id, campaign_id=campaign_id, message_ids=None, decision="approve"
    )
    commands.publish(account_id=account_id, campaign_id=campaign_id)
    runner.catch_up()

    campaign = views.campaign(account_id, campaign_id)
    assert campaign.status == "Published"
    assert campaign.message_counts["Published"] == 2
    published = views.published_messages(account_id, campaign_id, page=1, page_size=10)
    assert published.total == 2
    assert published.items[0].content.startswith("Again")
    assert views.run_history(account_id, campaign_id)[0].status == "Published"


def test_queries_answer_another_account_as_missing(
    commands, store, pool, account_id, runner, views
):
    campaign_id = create_campaign(commands, pool, account_id, customers(("gold", "EU")))
    runner.catch_up()
    other = uuid4()
    (run,) = views.run_history(account_id, campaign_id)

    assert views.run_history(other, campaign_id) is None
    assert views.campaign(other, campaign_id) is None
    assert views.run_history(account_id, uuid4()) is None
    assert views.message_pages(other, campaign_id, page_size=10) is None
    assert views.published_messages(other, campaign_id, page=1, page_size=10) is None
    assert views.job(other, run.job_uid) is None
    assert views.campaigns(other, page=1, page_size=10, status=None).total == 0
    assert (
        views.run_messages(
            other, campaign_id, run_number=None, include_archived=False, page=1, page_size=10
        )
        is None
    )
    with pytest.raises(RunNotFound):
        views.run_messages(
            account_id, campaign_id, run_number=7, include_archived=False, page=1, page_size=10
        )


def test_messages_page_in_segment_key_order(commands, store, pool, account_id, runner, views):
    plans = [f"p{i:02d}" for i in range(7)]
    campaign_id = create_campaign(
        commands, pool, account_id, customers(*[(p, "EU") for p in plans])
    )
    finish_run(store, campaign_id)
    runner.catch_up()

    pages = [
        views.run_messages(
            account_id, campaign_id, run_number=1, include_archived=False, page=n, page_size=3
        )
        for n in (1, 2, 3)
    ]

    keys = [m.segment_key for p in pages for m in p.items]
    assert [len(p.items) for p in pages] == [3, 3, 1]
    assert keys == sorted(keys)
    assert len(set(keys)) == 7
    assert pages[0].total == 7
    assert pages[0].total_pages == 3
    assert views.message_pages(account_id, campaign_id, page_size=3) == (7, 3)


def test_campaign_list_filters_by_status_and_group_use_is_known(
    commands, store, pool, account_id, runner, views
):
    first = create_campaign(commands, pool, account_id, customers(("gold", "EU")), name="A")
    create_campaign(commands, pool, account_id, customers(("gold", "EU")), name="B")
    finish_run(store, first)
    runner.catch_up()

    everything = views.campaigns(account_id, page=1, page_size=10, status=None)
    processing = views.campaigns(account_id, page=1, page_size=10, status="Processing")

    assert everything.total == 2
    assert [c.name for c in processing.items] == ["B"]
    group_id = views.campaign(account_id, first).customer_group_id
    assert views.group_in_current_run(account_id, group_id)
    assert not views.group_in_current_run(account_id, uuid4())
    assert not views.group_in_current_run(uuid4(), group_id)


def test_an_error_holding_a_nul_character_is_projected_not_poisonous(
    commands, store, pool, account_id, runner, views
):
    campaign_id = create_campaign(commands, pool, account_id, customers(("gold", "EU")))
    campaign = store.get_campaign(campaign_id)
    campaign.fail_run(1, "bad\x00byte, kept \\u0000 text")
    store.save_campaign(campaign)

    runner.catch_up()

    (run,) = views.run_history(account_id, campaign_id)
    assert run.status == "Failed"
    assert views.job(account_id, run.job_uid).error == "bad\ufffdbyte, kept \\u0000 text"
