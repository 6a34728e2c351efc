"""The queue's leases on a real database: claim, renew, release, expiry and take-over."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID, uuid4

import pytest
from psycopg_pool import ConnectionPool

from application.processor.queue import JobQueue, QueuedJob
from tests.fakes.processes import wait_until

pytestmark = pytest.mark.integration

LEASE = 30.0


@pytest.fixture
def queued(pool: ConnectionPool) -> Iterator[list[UUID]]:
    """Three due jobs, oldest first, in an otherwise empty queue."""
    campaign_ids = [uuid4() for _ in range(3)]
    with pool.connection() as conn:
        conn.execute("DELETE FROM processor_queue")
        for position, campaign_id in enumerate(campaign_ids, start=1):
            conn.execute(
                "INSERT INTO processor_queue (campaign_id, position) VALUES (%s, %s)",
                (campaign_id, position),
            )
    yield campaign_ids
    with pool.connection() as conn:
        conn.execute("DELETE FROM processor_queue")


def lease_of(pool: ConnectionPool, campaign_id: UUID) -> tuple[str | None, float | None]:
    """(holder, seconds until the lease expires) of a queued job."""
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT leased_by, extract(epoch FROM lease_expires_at - now())::float "
            "FROM processor_queue WHERE campaign_id = %s",
            (campaign_id,),
        ).fetchone()
    assert row is not None, "not queued"
    return row[0], row[1]


def expire(pool: ConnectionPool, campaign_id: UUID) -> None:
    """What the clock does to the lease of a processor that stopped renewing it."""
    with pool.connection() as conn:
        conn.execute(
            "UPDATE processor_queue SET lease_expires_at = now() - interval '1 second' "
            "WHERE campaign_id = %s",
            (campaign_id,),
        )


def queued_ids(pool: ConnectionPool) -> set[UUID]:
    with pool.connection() as conn:
        return {row[0] for row in conn.execute("SELECT campaign_id FROM processor_queue")}


def test_claims_take_the_oldest_free_job_and_never_one_another_holds(pool, queued):  # type: ignore[no-untyped-def]
    first, second = JobQueue(pool, "first", LEASE), JobQueue(pool, "second", LEASE)

    assert first.claim() == QueuedJob(queued[0], 1)
    assert second.claim() == QueuedJob(queued[1], 2)
    assert first.claim() == QueuedJob(queued[2], 3)
    assert second.claim() is None

    holder, remaining = lease_of(pool, queued[0])
    assert holder == "first"
    assert remaining is not None
    assert 0 < remaining <= LEASE


def test_an_expired_lease_is_taken_over_and_the_old_holder_loses_it(pool, queued):  # type: ignore[no-untyped-def]
    first, second = JobQueue(pool, "first", LEASE), JobQueue(pool, "second", LEASE)
    job = first.claim()
    assert job is not None
    assert first.renew(job)
    expire(pool, job.campaign_id)
    assert first.renew(job)  # expired but not taken: still this processor's
    expire(pool, job.campaign_id)

    assert second.claim() == job
    assert lease_of(pool, job.campaign_id)[0] == "second"
    assert not first.renew(job)
    first.done(job)  # a processor that lost the lease changes nothing
    first.defer(job, "late")
    first.release(job)
    assert lease_of(pool, job.campaign_id)[0] == "second"

    second.done(job)
    assert job.campaign_id not in queued_ids(pool)
    assert not second.renew(job)


def test_renewing_extends_the_lease(pool, queued):  # type: ignore[no-untyped-def]
    queue = JobQueue(pool, "first", LEASE)
    job = queue.claim()
    assert job is not None
    expire(pool, job.campaign_id)

    assert queue.renew(job)
    remaining = lease_of(pool, job.campaign_id)[1]
    assert remaining is not None
    assert remaining > LEASE - 5


def test_release_and_defer_free_the_job(pool, queued):  # type: ignore[no-untyped-def]
    first, second = JobQueue(pool, "first", LEASE), JobQueue(pool, "second", LEASE)
    job = first.claim()
    assert job is not None
    first.release(job)
    assert lease_of(pool, job.campaign_id) == (None, None)
    assert second.claim() == job

    second.defer(job, "provider away")
    assert lease_of(pool, job.campaign_id) == (None, None)
    assert first.claim() == QueuedJob(queued[1], 2)  # the deferred job is not due yet


def test_a_job_queued_again_while_worked_stays_for_another_pass(pool, queued):  # type: ignore[no-untyped-def]
    queue = JobQueue(pool, "first", LEASE)
    job = queue.claim()
    assert job is not None
    with pool.connection() as conn:  # what the follower does for a newer event
        conn.execute(
            "UPDATE processor_queue SET position = 10 WHERE campaign_id = %s", (job.campaign_id,)
        )

    queue.done(job)
    assert lease_of(pool, job.campaign_id) == (None, None)
    assert queue.claim() == QueuedJob(queued[1], 2)  # by position: the newer pass is last
    assert queue.claim() == QueuedJob(queued[2], 3)
    assert queue.claim() == QueuedJob(job.campaign_id, 10)


def test_the_heartbeat_keeps_the_lease_until_another_processor_takes_it(pool, queued):  # type: ignore[no-untyped-def]
    queue = JobQueue(pool, "first", lease_seconds=1.5)
    job = queue.claim()
    assert job is not None
    with queue.heartbeat(job) as lost:
        expire(pool, job.campaign_id)
        assert wait_until(lambda: (lease_of(pool, job.campaign_id)[1] or 0) > 0, timeout=30)
        assert not lost.is_set()

        expire(pool, job.campaign_id)
        assert JobQueue(pool, "second", LEASE).claim() == job
        assert lost.wait(timeout=30)
    assert lease_of(pool, job.campaign_id)[0] == "second"
