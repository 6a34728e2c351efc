"""The background processor on real PostgreSQL, with generators against a loopback server."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Iterator

import pytest

from domain.statuses import ArchiveReason, CampaignStatus, MessageStatus, Origin, RunStatus
from tests.drive import approve_and_publish
from tests.fakes.chat_server import ChatServer, chat_server
from tests.fakes.processes import wait_until
from tests.processing import (
    OPENAI,
    create_campaign,
    customers,
    generators,
    make_processor,
    per_segment,
    rerun,
    stored_events,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with chat_server() as running:
        yield running


@pytest.fixture
def processor(store, pool, db, server):  # type: ignore[no-untyped-def]
    return make_processor(store, pool, db, generators(server.url))


def test_first_run_generates_one_message_per_segment_and_awaits_review(
    commands, store, pool, processor, account_id
):  # type: ignore[no-untyped-def]
    campaign_id = create_campaign(commands, pool, account_id, customers(range(7)))

    processor.run_until_idle()

    campaign = store.get_campaign(campaign_id)
    run = campaign.current_run
    assert campaign.status == CampaignStatus.READY_FOR_REVIEW
    assert run is not None
    assert run.status == RunStatus.READY_FOR_REVIEW
    assert sorted(run.messages) == sorted(run.segments)
    message = next(iter(run.messages.values()))
    values = run.segments[message.segment_key].values
    assert message.content == f"Hi {values['plan']} member in EU!"
    assert message.status == MessageStatus.READY_FOR_REVIEW


def test_generated_events_carry_generator_digest_and_job_metadata(
    commands, store, pool, processor, account_id
):  # type: ignore[no-untyped-def]
    campaign_id = create_campaign(commands, pool, account_id, customers(range(3)))

    processor.run_until_idle()

    job_uid = store.get_campaign(campaign_id).current_run.job_uid
    generated = [e for _, name, e in stored_events(pool, campaign_id) if name == "MessageGenerated"]
    assert len(generated) == 3
    for event in generated:
        assert event["generator"] == "template"
        assert event["model"] is None
        assert event["prompt_digest"] == hashlib.sha256(event["content"].encode()).hexdigest()
        assert event["_meta"]["user_id"] == "processor"
        assert event["_meta"]["account_id"] == str(account_id)
        assert event["_meta"]["correlation_id"] == str(job_uid)
        # The template generator calls no provider: no usage, no latency.
        assert (event["usage"], event["latency_ms"], event["class_version"]) == (None, None, 2)


def test_generated_events_record_the_providers_token_usage_and_the_calls_latency(
    commands, store, pool, db, server, account_id
):  # type: ignore[no-untyped-def]
    processor = make_processor(store, pool, db, generators(server.url))
    campaign_id = create_campaign(commands, pool, account_id, customers(range(3)), OPENAI)

    processor.run_until_idle()

    generated = [e for _, name, e in stored_events(pool, campaign_id) if name == "MessageGenerated"]
    assert len(generated) == 3
    for event in generated:
        usage = event["usage"]  # as the loopback server counts them: words
        assert usage["completion_tokens"] == len(event["content"].split())
        assert usage["prompt_tokens"] > 0
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        assert event["latency_ms"] > 0


def test_rerun_copies_matched_generates_new_and_archives_orphaned(
    commands, store, pool, processor, account_id
):  # type: ignore[no-untyped-def]
    campaign_id = create_campaign(commands, pool, account_id, customers(["a", "b", "c"]))
    processor.run_until_idle()
    approve_and_publish(store, campaign_id)
    before = store.get_campaign(campaign_id).current_run
    assert before is not None

    rerun(commands, pool, account_id, campaign_id, customers(["b", "c", "d"]))
    processor.run_until_idle()

    campaign = store.get_campaign(campaign_id)
    run = campaign.current_run
    assert run is not None
    assert campaign.status == CampaignStatus.READY_FOR_REVIEW
    origins = {run.segments[k].values["plan"]: m.origin for k, m in run.messages.items()}
    assert origins == {"b": Origin.COPIED, "c": Origin.COPIED, "d": Origin.GENERATED}
    for key in run.matched:
        copied = run.messages[key]
        assert copied.copied_from_message_id == before.messages[key].message_id
        assert copied.content == before.messages[key].content
        assert copied.status == MessageStatus.APPROVED
    events = stored_events(pool, campaign_id)
    (orphan,) = [
        e
        for _, n, e in events
        if n == "MessageArchived" and e["run_number"] == 1 and e["segment_key"]
    ]
    assert orphan["reason"] == ArchiveReason.ORPHANED
    assert orphan["segment_key"] == run.orphaned[0]
    (final,) = [e for _, n, e in events if n == "RunFinalised" and e["run_number"] == 2]
    assert final["counts"] == {"copied": 2, "generated": 1, "failed": 0, "archived": 1}


def test_all_matched_rerun_is_ready_to_publish_and_saves_in_batches(
    commands, store, pool, processor, account_id
):  # type: ignore[no-untyped-def]
    campaign_id = create_campaign(commands, pool, account_id, customers(range(1200)))
    processor.run_until_idle()
    approve_and_publish(store, campaign_id)

    rerun(commands, pool, account_id, campaign_id, customers(range(1200)))
    processor.run_until_idle()

    campaign = store.get_campaign(campaign_id)
    assert campaign.status == CampaignStatus.READY_TO_PUBLISH
    copies = per_segment(stored_events(pool, campaign_id), "SegmentMatched", 2)
    assert len(copies) == 1200
    assert set(copies.values()) == {1}
    with pool.connection() as conn:
        (transactions,) = conn.execute(
            "SELECT count(DISTINCT xmin::text) FROM nudgescribe_events "
            "WHERE originator_id = %s AND topic LIKE %s",
            (campaign_id, "%.SegmentMatched"),
        ).fetchone()
    assert transactions == 3  # 500 + 500 + 200, never one save per segment


def test_flaky_provider_still_gives_each_segment_exactly_one_message(
    commands, store, pool, db, account_id
):  # type: ignore[no-untyped-def]
    with chat_server(fail_every=3, failure="429") as server:
        processor = make_processor(store, pool, db, generators(server.url, max_attempts=6))
        campaign_id = create_campaign(commands, pool, account_id, customers(range(20)), OPENAI)

        processor.run_until_idle()

    campaign = store.get_campaign(campaign_id)
    assert campaign.status == CampaignStatus.READY_FOR_REVIEW
    generated = per_segment(stored_events(pool, campaign_id), "MessageGenerated", 1)
    assert len(generated) == 20
    assert set(generated.values()) == {1}
    assert any(r.status == "429" for r in server.log)
    events = [e for _, n, e in stored_events(pool, campaign_id) if n == "MessageGenerated"]
    assert {e["model"] for e in events} == {"test-model"}
    assert {e["generator"] for e in events} == {"openai"}


def test_failing_generation_fails_the_run_and_retry_completes_it_without_regenerating(
    commands, store, pool, db, account_id
):  # type: ignore[no-untyped-def]
    with chat_server(fail_marker="plan p3 ", failure="500") as server:
        processor = make_processor(store, pool, db, generators(server.url, max_attempts=2))
        campaign_id = create_campaign(commands, pool, account_id, customers(range(10)), OPENAI)

        processor.run_until_idle()

        campaign = store.get_campaign(campaign_id)
        assert campaign.status == CampaignStatus.FAILED
        run = campaign.current_run
        assert run is not None
        assert run.status == RunStatus.FAILED
        assert "HTTP 500" in (run.error or "")
        recorded_before_retry = set(run.messages)
        assert recorded_before_retry  # other segments were saved before the failure
        calls_before_retry = len(server.log)

        server.config.fail_marker = None
        commands.retry(account_id=account_id, campaign_id=campaign_id)
        processor.run_until_idle()

    campaign = store.get_campaign(campaign_id)
    run = campaign.current_run
    assert run is not None
    assert campaign.status == CampaignStatus.READY_FOR_REVIEW
    assert len(run.messages) == 10
    prompts_after_retry = [r.prompt for r in server.log[calls_before_retry:]]
    for key in recorded_before_retry:
        plan = run.segments[key].values["plan"]
        assert f"Offer for plan {plan} in EU" not in prompts_after_retry
    generated = per_segment(stored_events(pool, campaign_id), "MessageGenerated", 1)
    assert set(generated.values()) == {1}


def test_a_refused_segment_is_recorded_for_its_message_and_the_run_completes(
    commands, store, pool, db, account_id
):  # type: ignore[no-untyped-def]
    with chat_server(fail_marker="plan p3 ", failure="policy") as server:
        processor = make_processor(store, pool, db, generators(server.url, max_attempts=3))
        campaign_id = create_campaign(commands, pool, account_id, customers(range(10)), OPENAI)

        processor.run_until_idle()

    campaign = store.get_campaign(campaign_id)
    run = campaign.current_run
    assert run is not None
    assert campaign.status == CampaignStatus.READY_FOR_REVIEW
    refused = {k for k, s in run.segments.items() if s.values["plan"] == "p3"}
    assert sorted(run.messages) == sorted(run.segments)
    for key, message in run.messages.items():
        if key in refused:
            assert message.status == MessageStatus.GENERATION_FAILED
            assert message.error == (
                "openai generator: HTTP 400: "
                "Your request was rejected as a result of our safety system."
            )
            assert message.content == ""
        else:
            assert message.status == MessageStatus.READY_FOR_REVIEW
            assert message.error is None
    events = stored_events(pool, campaign_id)
    assert per_segment(events, "MessageGenerationFailed", 1) == dict.fromkeys(refused, 1)
    assert sum(per_segment(events, "MessageGenerated", 1).values()) == 9
    (final,) = [e for _, n, e in events if n == "RunFinalised"]
    assert final["counts"] == {"copied": 0, "generated": 9, "failed": 1, "archived": 0}
    refusals = [r for r in server.log if r.status == "policy"]
    assert len(refusals) == 1, "a refused request is not sent again"


def regeneration_queued(commands, store, pool, processor, account_id):  # type: ignore[no-untyped-def]
    """A generated three-segment campaign with one message queued for regeneration:
    (the campaign's id, that message as it was)."""
    campaign_id = create_campaign(commands, pool, account_id, customers(range(3)), OPENAI)
    processor.run_until_idle()
    run = store.get_campaign(campaign_id).current_run
    assert run is not None
    target = next(iter(run.messages.values()))
    commands.regenerate(
        account_id=account_id, campaign_id=campaign_id, message_id=target.message_id
    )
    return campaign_id, target


def test_a_refused_regeneration_marks_the_message_failed_with_its_old_content(
    commands, store, pool, db, account_id
):  # type: ignore[no-untyped-def]
    with chat_server() as server:
        processor = make_processor(store, pool, db, generators(server.url, max_attempts=2))
        campaign_id, target = regeneration_queued(commands, store, pool, processor, account_id)
        server.config.fail_marker, server.config.failure = "", "policy"  # every call refused
        processor.run_until_idle()

    campaign = store.get_campaign(campaign_id)
    run = campaign.current_run
    assert run is not None
    assert run.regenerating == []
    failed = run.messages[target.segment_key]
    assert failed.status == MessageStatus.GENERATION_FAILED
    assert failed.content == target.content
    assert "safety system" in (failed.error or "")
    assert campaign.status == CampaignStatus.READY_FOR_REVIEW
    events = stored_events(pool, campaign_id)
    assert per_segment(events, "MessageGenerationFailed", 1) == {target.segment_key: 1}


def test_regeneration_replaces_one_message_through_the_same_path(
    commands, store, pool, processor, server, account_id
):  # type: ignore[no-untyped-def]
    campaign_id = create_campaign(commands, pool, account_id, customers(range(4)), OPENAI)
    processor.run_until_idle()
    run = store.get_campaign(campaign_id).current_run
    assert run is not None
    target = next(iter(run.messages.values()))
    calls = len(server.log)

    commands.regenerate(
        account_id=account_id, campaign_id=campaign_id, message_id=target.message_id
    )
    processor.run_until_idle()

    run = store.get_campaign(campaign_id).current_run
    assert run is not None
    assert len(server.log) == calls + 1
    regenerated = run.messages[target.segment_key]
    assert regenerated.message_id == target.message_id
    assert regenerated.content != target.content
    assert regenerated.status == MessageStatus.READY_FOR_REVIEW
    assert run.regenerating == []
    assert store.get_campaign(campaign_id).status == CampaignStatus.READY_FOR_REVIEW


def test_regeneration_that_keeps_failing_leaves_the_queue_with_the_old_content(
    commands, store, pool, db, account_id
):  # type: ignore[no-untyped-def]
    with chat_server() as server:
        processor = make_processor(store, pool, db, generators(server.url, max_attempts=2))
        campaign_id, target = regeneration_queued(commands, store, pool, processor, account_id)
        server.config.fail_marker = ""  # every call fails from now on
        processor.run_until_idle()

    campaign = store.get_campaign(campaign_id)
    run = campaign.current_run
    assert run is not None
    assert run.regenerating == []
    assert run.messages[target.segment_key].content == target.content
    assert campaign.status == CampaignStatus.READY_FOR_REVIEW
    failures = per_segment(stored_events(pool, campaign_id), "MessageRegenerationFailed", 1)
    assert failures == {target.segment_key: 1}
    with pool.connection() as conn:
        queued = conn.execute(
            "SELECT count(*) FROM processor_queue WHERE campaign_id = %s", (campaign_id,)
        ).fetchone()
    assert queued == (0,)


def test_processors_work_different_campaigns_and_each_claims_one_job_at_a_time(
    commands, store, pool, db, server, account_id
):  # type: ignore[no-untyped-def]
    found = generators(server.url)
    first, second = (make_processor(store, pool, db, found) for _ in range(2))
    campaign_ids = [
        create_campaign(commands, pool, account_id, customers(range(2), region=f"R{i}"))
        for i in range(2)
    ]
    first.queue.follow()
    held = first.queue.claim()
    assert held is not None

    second.run_until_idle()  # works the other campaign, never the one the first holds
    other = next(c for c in campaign_ids if c != held.campaign_id)
    assert store.get_campaign(other).status == CampaignStatus.READY_FOR_REVIEW
    assert store.get_campaign(held.campaign_id).status == CampaignStatus.PROCESSING

    first.queue.release(held)
    second.run_until_idle()
    assert store.get_campaign(held.campaign_id).status == CampaignStatus.READY_FOR_REVIEW


def test_a_processor_that_lost_its_lease_stops_working_the_job(
    commands, store, pool, db, account_id
):  # type: ignore[no-untyped-def]
    # 200 segments, 8 at a time, half a second each: about 12 s of generation; a lease of
    # 1 s is renewed every third of a second, so the loss is seen long before the end.
    with chat_server(latency=0.5) as server:
        found = generators(server.url)
        campaign_id = create_campaign(commands, pool, account_id, customers(range(200)), OPENAI)
        first = make_processor(store, pool, db, found, lease_seconds=1.0)
        working = threading.Thread(target=first.run_once)
        working.start()
        assert wait_until(
            lambda: per_segment(stored_events(pool, campaign_id), "MessageGenerated", 1),
            timeout=60,
        )
        with pool.connection() as conn:  # another processor took the job over
            conn.execute(
                "UPDATE processor_queue SET leased_by = 'another', "
                "lease_expires_at = now() + interval '1 hour' WHERE campaign_id = %s",
                (campaign_id,),
            )
        working.join(timeout=60)
        assert not working.is_alive()

        assert store.get_campaign(campaign_id).status == CampaignStatus.PROCESSING
        assert len(per_segment(stored_events(pool, campaign_id), "MessageGenerated", 1)) < 200
        with pool.connection() as conn:  # left as the new holder has it
            lease = conn.execute(
                "SELECT leased_by FROM processor_queue WHERE campaign_id = %s", (campaign_id,)
            ).fetchone()
            assert lease == ("another",)
            conn.execute(  # ... which then dies: its lease runs out
                "UPDATE processor_queue SET lease_expires_at = now() WHERE campaign_id = %s",
                (campaign_id,),
            )
        make_processor(store, pool, db, found).run_until_idle()

    assert store.get_campaign(campaign_id).status == CampaignStatus.READY_FOR_REVIEW
    generated = per_segment(stored_events(pool, campaign_id), "MessageGenerated", 1)
    assert len(generated) == 200
    assert set(generated.values()) == {1}
    # It stopped calling on losing the lease, and recorded what it had asked for.
    assert set(Counter(r.prompt for r in server.log).values()) == {1}


def test_stopping_mid_generation_keeps_the_job_queued_for_the_next_start(
    commands, store, pool, db, account_id
):  # type: ignore[no-untyped-def]
    # 80 segments, 8 at a time, half a second each: about 5 s of generation, so the stop
    # lands mid-generation even when this thread is late to see the first batch.
    with chat_server(latency=0.5) as server:
        found = generators(server.url)
        campaign_id = create_campaign(commands, pool, account_id, customers(range(80)), OPENAI)
        first = make_processor(store, pool, db, found)
        first.start()
        try:
            assert wait_until(
                lambda: per_segment(stored_events(pool, campaign_id), "MessageGenerated", 1),
                timeout=60,
            )
        finally:
            first.stop()
        assert store.get_campaign(campaign_id).status == CampaignStatus.PROCESSING

        make_processor(store, pool, db, found).run_until_idle()

    assert store.get_campaign(campaign_id).status == CampaignStatus.READY_FOR_REVIEW
    generated = per_segment(stored_events(pool, campaign_id), "MessageGenerated", 1)
    assert len(generated) == 80
    assert set(generated.values()) == {1}


def test_a_provider_failing_one_call_in_three_with_503_completes_a_large_run(
    commands, store, pool, db, account_id
):  # type: ignore[no-untyped-def]
    # A busy provider: every third call is a 503. No attempt count may end the run while
    # the other calls succeed.
    with chat_server(fail_every=3, failure="503") as server:
        processor = make_processor(store, pool, db, generators(server.url))
        campaign_id = create_campaign(commands, pool, account_id, customers(range(1200)), OPENAI)

        processor.run_until_idle()

    campaign = store.get_campaign(campaign_id)
    assert campaign.status == CampaignStatus.READY_FOR_REVIEW
    generated = per_segment(stored_events(pool, campaign_id), "MessageGenerated", 1)
    assert len(generated) == 1200
    assert set(generated.values()) == {1}
