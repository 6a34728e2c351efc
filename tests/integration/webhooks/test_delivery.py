"""Deliveries from the log to a real receiver that verifies every signature."""

from __future__ import annotations

from uuid import UUID

import pytest

from application.webhooks.endpoints import Webhooks
from tests.fakes.chat_server import chat_server
from tests.fakes.processes import wait_until
from tests.fakes.webhook_receiver import Receiver
from tests.processing import OPENAI, create_campaign, customers, generators, make_processor

pytestmark = pytest.mark.integration


def test_failing_twice_then_accepting_gets_each_event_exactly_once(  # type: ignore[no-untyped-def]
    pool, subscribe, finish_runs, dispatch, receiver: Receiver, webhooks: Webhooks, account_id
) -> None:
    first = subscribe("first", fail_first=2)
    second = subscribe("second", fail_first=2)
    campaign_ids = finish_runs(2)
    dispatch()

    def all_accepted() -> bool:
        return all(len(receiver.accepted(path)) == 2 for path in ("first", "second"))

    assert wait_until(all_accepted, timeout=30)
    assert wait_until(lambda: delivery_states(pool, [first, second]) == [("delivered", 4)], 30)
    for path, webhook_id in (("first", first), ("second", second)):
        assert set(receiver.accepted(path).values()) == {1}
        attempts = receiver.attempts(path)
        assert [a.status for a in attempts].count(500) == 4  # two per event
        assert all(a.payload is not None for a in attempts)  # every one verified
        payloads = [a.payload for a in attempts if a.status == 200]
        assert {p["data"]["campaign_id"] for p in payloads} == {str(c) for c in campaign_ids}
        for payload in payloads:
            assert payload["type"] == "run.completed"
            data = payload["data"]
            assert data["run_number"] == 1
            assert data["campaign_status"] == "Ready for review"
            assert data["comparison"] == {"matched": 0, "new": 3, "orphaned": 0}
            assert data["counts"]["generated"] == 3
            assert data["job_uid"]
            assert data["position"] > 0
        shown, total = webhooks.attempts(account_id, webhook_id, 1, 100)
        assert total == 6
        assert sorted(a.status_code for a in shown) == [200, 200, 500, 500, 500, 500]
        assert all(a.next_retry_at is not None for a in shown if a.status_code == 500)


def delivery_states(pool, webhook_ids: list[UUID]) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    with pool.connection() as conn:
        return conn.execute(  # type: ignore[return-value]
            "SELECT state, count(*) FROM webhook_deliveries WHERE webhook_id = ANY(%s) GROUP BY 1",
            (webhook_ids,),
        ).fetchall()


def test_a_never_answering_endpoint_does_not_delay_a_healthy_one(  # type: ignore[no-untyped-def]
    subscribe, finish_runs, dispatch, receiver: Receiver
) -> None:
    subscribe("dead", hang=True)
    subscribe("healthy")
    finish_runs(4)
    dispatch(webhook_endpoint_concurrency=2)

    assert wait_until(lambda: len(receiver.accepted("healthy")) == 4, timeout=30)
    # Every delivery to the healthy endpoint arrived while the dead one's were still held
    # open: none of them had timed out (10 s), so none waited behind them.
    assert receiver.hanging == 2  # its own slots, no more
    assert all(a.status == 0 for a in receiver.attempts("dead"))


def test_a_ping_and_a_redelivery_keep_their_webhook_id(  # type: ignore[no-untyped-def]
    subscribe, dispatch, receiver: Receiver, webhooks: Webhooks, account_id: UUID
) -> None:
    webhook_id = subscribe("ping")
    message_id = webhooks.test(account_id, webhook_id)
    dispatch()
    assert wait_until(lambda: receiver.accepted("ping")[message_id] == 1, timeout=30)
    assert receiver.attempts("ping")[0].payload["type"] == "ping"  # type: ignore[index]
    webhooks.redeliver(account_id, webhook_id, message_id)
    assert wait_until(lambda: receiver.accepted("ping")[message_id] == 2, timeout=30)


def test_an_endpoint_failing_for_the_whole_window_is_disabled(  # type: ignore[no-untyped-def]
    subscribe, finish_runs, dispatch, receiver: Receiver, webhooks: Webhooks, account_id: UUID
) -> None:
    webhook_id = subscribe("broken", fail_first=1_000_000)
    finish_runs(1)
    dispatch(webhook_retry_seconds=1.0)

    def disabled() -> bool:
        endpoints, _ = webhooks.page(account_id, 1, 100)
        return not next(e for e in endpoints if e.webhook_id == webhook_id).enabled

    assert wait_until(disabled, timeout=30)
    endpoint = webhooks.update(account_id, webhook_id, enabled=True)
    assert endpoint.enabled
    assert endpoint.failing_since is None


def test_rotated_secret_signs_beside_the_old_one(  # type: ignore[no-untyped-def]
    subscribe, dispatch, receiver: Receiver, webhooks: Webhooks, account_id: UUID
) -> None:
    webhook_id = subscribe("rotated")
    old = receiver.routes["rotated"].secret
    new = webhooks.rotate_secret(account_id, webhook_id)
    assert new != old
    first = webhooks.test(account_id, webhook_id)
    dispatch()
    assert wait_until(lambda: receiver.accepted("rotated")[first] == 1, timeout=30)  # old
    receiver.routes["rotated"].secret = new
    second = webhooks.test(account_id, webhook_id)
    assert wait_until(lambda: receiver.accepted("rotated")[second] == 1, timeout=30)  # new


def test_a_refused_segment_and_a_failed_run_are_told(  # type: ignore[no-untyped-def]
    commands, store, pool, db, account_id, subscribe, dispatch, receiver: Receiver
) -> None:
    subscribe("all", events=["run.completed", "run.failed", "message.generation_failed"])
    with chat_server(fail_marker="plan p1 ", failure="policy") as server:
        processor = make_processor(store, pool, db, generators(server.url, max_attempts=2))
        refused = create_campaign(commands, pool, account_id, customers(range(3)), OPENAI)
        processor.run_until_idle()
        server.config.failure = "500"  # now a failure that fails the whole run
        failed = create_campaign(
            commands, pool, account_id, customers(range(3), region="US"), OPENAI
        )
        processor.run_until_idle()
    dispatch()

    def told() -> list[tuple[str, str]]:
        return sorted(
            (a.payload["type"], a.payload["data"]["campaign_id"])
            for a in receiver.attempts("all")
            if a.status == 200 and a.payload is not None
        )

    expected = sorted([
        ("message.generation_failed", str(refused)),
        ("run.completed", str(refused)),
        ("run.failed", str(failed)),
    ])  # fmt: skip
    assert wait_until(lambda: told() == expected, timeout=30)
    by_type = {a.payload["type"]: a.payload["data"] for a in receiver.attempts("all")}  # type: ignore[index]
    assert by_type["message.generation_failed"]["segment_key"]
    assert "safety system" in by_type["message.generation_failed"]["error"]
    assert by_type["message.generation_failed"]["regeneration"] is False
    assert by_type["run.completed"]["counts"]["failed"] == 1
    assert by_type["run.failed"]["campaign_status"] == "Failed"
    assert "HTTP 500" in by_type["run.failed"]["error"]
