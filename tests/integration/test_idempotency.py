"""Idempotency-Key on create and initiate: one run per (account, key), first result replayed."""

from __future__ import annotations

import threading
from uuid import uuid4

import pytest

from application.idempotency import IdempotencyKeyInFlight, IdempotencyKeyReused, request_hash
from domain.errors import CampaignNotPublished
from tests.content_fixtures import define_fields, make_group
from tests.drive import approve_and_publish, finish_run

pytestmark = pytest.mark.integration
TEMPLATE = {"provider": "template", "template": "Hi {{plan}}"}


def create(commands, group, account_id, key):  # type: ignore[no-untyped-def]
    return commands.create(
        account_id=account_id,
        name="Spring",
        customer_group_id=group,
        segment_variables=["plan"],
        ai_config=TEMPLATE,
        idempotency_key=key,
    )


def test_same_key_same_body_replays_the_first_create(commands, store, pool, account_id):
    define_fields(pool, account_id, ["plan"])
    group = make_group(pool, account_id, [{"plan": "gold"}])

    first = create(commands, group, account_id, "create-1")
    again = create(commands, group, account_id, "create-1")

    assert again == first
    assert store.get_campaign(first.campaign_id).version == 2  # nothing started twice


def test_same_key_with_another_body_is_refused(commands, pool, account_id):
    define_fields(pool, account_id, ["plan"])
    group = make_group(pool, account_id, [{"plan": "gold"}])
    create(commands, group, account_id, "create-2")

    with pytest.raises(IdempotencyKeyReused):
        commands.create(
            account_id=account_id,
            name="Other",
            customer_group_id=group,
            segment_variables=["plan"],
            ai_config=TEMPLATE,
            idempotency_key="create-2",
        )


def test_keys_are_scoped_by_account(commands, pool, account_id):
    other = uuid4()
    for account in (account_id, other):
        define_fields(pool, account, ["plan"])
    first = create(commands, make_group(pool, account_id, [{"plan": "a"}]), account_id, "shared")
    second = create(commands, make_group(pool, other, [{"plan": "a"}]), other, "shared")

    assert first.campaign_id != second.campaign_id


def test_replayed_initiate_starts_nothing(commands, store, pool, account_id):
    define_fields(pool, account_id, ["plan"])
    campaign_id = create(
        commands, make_group(pool, account_id, [{"plan": "a"}]), account_id, None
    ).campaign_id
    finish_run(store, campaign_id)
    approve_and_publish(store, campaign_id)
    group = make_group(pool, account_id, [{"plan": "a"}, {"plan": "b"}])

    first = commands.initiate_rerun(
        account_id=account_id,
        campaign_id=campaign_id,
        new_customer_group_id=group,
        idempotency_key="k",
    )
    again = commands.initiate_rerun(
        account_id=account_id,
        campaign_id=campaign_id,
        new_customer_group_id=group,
        idempotency_key="k",
    )

    assert again == first
    assert store.get_campaign(campaign_id).current_run_number == 2


def test_failed_command_frees_its_key(commands, store, pool, account_id):
    define_fields(pool, account_id, ["plan"])
    campaign_id = create(
        commands, make_group(pool, account_id, [{"plan": "a"}]), account_id, None
    ).campaign_id
    group = make_group(pool, account_id, [{"plan": "a"}])
    kwargs = dict(
        account_id=account_id,
        campaign_id=campaign_id,
        new_customer_group_id=group,
        idempotency_key="retry-me",
    )

    with pytest.raises(CampaignNotPublished):
        commands.initiate_rerun(**kwargs)
    finish_run(store, campaign_id)
    approve_and_publish(store, campaign_id)

    assert commands.initiate_rerun(**kwargs).run_number == 2


def test_key_still_in_flight_is_a_conflict(commands, pool, account_id):
    fingerprint = request_hash("campaign.create", name="x")
    claimed = commands.idempotency.claim(account_id, "busy", fingerprint)
    assert claimed.replay is None

    with pytest.raises(IdempotencyKeyInFlight):
        commands.idempotency.claim(account_id, "busy", fingerprint)


def test_concurrent_requests_with_one_key_start_one_campaign(commands, store, pool, account_id):
    define_fields(pool, account_id, ["plan"])
    group = make_group(pool, account_id, [{"plan": "gold"}])
    results: list[object] = []
    barrier = threading.Barrier(4)

    def attempt() -> None:
        barrier.wait()
        try:
            results.append(create(commands, group, account_id, "race").campaign_id)
        except IdempotencyKeyInFlight as error:
            results.append(error)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    ids = {r for r in results if not isinstance(r, Exception)}
    assert len(ids) == 1
