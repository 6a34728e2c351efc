"""The campaign as it stood at the end of a run, or at a moment, from the log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from application.time_travel import TimeTravel
from domain.errors import CampaignNotFound, RunNotFound
from tests.content_fixtures import define_fields, make_group
from tests.drive import approve_and_publish, finish_run

pytestmark = pytest.mark.integration


@pytest.fixture
def travel(store, pool) -> TimeTravel:  # type: ignore[no-untyped-def]
    return TimeTravel(store, pool)


def rerun_twice(commands, store, pool, account_id):  # type: ignore[no-untyped-def]
    define_fields(pool, account_id, ["plan"])
    first = make_group(pool, account_id, [{"plan": "gold"}, {"plan": "silver"}], name="first")
    campaign_id = commands.create(
        account_id=account_id,
        name="Spring",
        customer_group_id=first,
        segment_variables=["plan"],
        ai_config={"provider": "template", "template": "Hi {{plan}}"},
    ).campaign_id
    finish_run(store, campaign_id)
    approve_and_publish(store, campaign_id)
    second = make_group(pool, account_id, [{"plan": "gold"}, {"plan": "bronze"}], name="second")
    commands.initiate_rerun(
        account_id=account_id, campaign_id=campaign_id, new_customer_group_id=second
    )
    finish_run(store, campaign_id)
    return campaign_id, first, second


def test_as_of_run_answers_the_state_at_the_end_of_that_run(
    commands, store, pool, account_id, travel
):
    campaign_id, first, second = rerun_twice(commands, store, pool, account_id)

    then = travel.as_of_run(account_id, campaign_id, 1)
    now = travel.as_of_run(account_id, campaign_id, 2)

    assert (then.current_run_number, then.status, then.customer_group_id) == (1, "Published", first)
    assert then.message_counts == {"Published": 2}
    assert (now.current_run_number, now.status, now.customer_group_id) == (
        2,
        "Ready for review",
        second,
    )
    assert now.message_counts == {"Approved": 1, "Ready for review": 1}


def test_as_of_a_moment_answers_the_state_then(commands, store, pool, account_id, travel):
    campaign_id, first, _ = rerun_twice(commands, store, pool, account_id)
    events = list(store.events.get(campaign_id))
    published_at = next(e for e in events if type(e).__name__ == "CampaignPublished").timestamp

    state = travel.as_of(account_id, campaign_id, published_at)

    assert (state.status, state.current_run_number, state.customer_group_id) == (
        "Published",
        1,
        first,
    )
    with pytest.raises(CampaignNotFound):
        travel.as_of(account_id, campaign_id, events[0].timestamp - timedelta(seconds=1))


def test_unknown_run_and_foreign_account_are_not_found(commands, store, pool, account_id, travel):
    campaign_id, _, _ = rerun_twice(commands, store, pool, account_id)

    with pytest.raises(RunNotFound):
        travel.as_of_run(account_id, campaign_id, 3)
    with pytest.raises(CampaignNotFound):
        travel.as_of_run(account_id.__class__(int=account_id.int ^ 1), campaign_id, 1)
    with pytest.raises(CampaignNotFound):
        travel.as_of(account_id.__class__(int=account_id.int ^ 1), campaign_id, datetime.now(UTC))
