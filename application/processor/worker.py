"""The background processor: follow the log into the queue, work the partition's jobs.

One session advisory lock per partition slot makes two processes configured with the
same slot a worker and a hot standby, never two workers. The process waits on LISTEN
(the event log's channel and the queue's) and polls as a fallback, so a lost
notification delays work by at most ``poll_interval``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from application.database import ConnectionInfo
from application.generators import Generator
from application.processor.generation import GenerationOptions
from application.processor.job import CampaignJob, JobInterrupted
from application.processor.partition import Partition
from application.processor.queue import QUEUE_CHANNEL, JobQueue, QueuedJob
from application.settings import Settings
from application.store import EVENTS_TABLE, CampaignStore
from domain.errors import CampaignNotFound

log = logging.getLogger(__name__)
SLOT_LOCK_CLASS = 0x6E756470  # "nudp"


class Processor:
    def __init__(
        self,
        store: CampaignStore,
        pool: ConnectionPool,
        connection: ConnectionInfo,
        generators: Mapping[str, Generator],
        settings: Settings,
        partition: Partition = Partition(index=0, count=1),
        *,
        poll_interval: float = 1.0,
        generation: GenerationOptions | None = None,
    ) -> None:
        self.store = store
        self.connection = connection
        self.partition = partition
        self.poll_interval = poll_interval
        self.queue = JobQueue(pool)
        self._stopping = threading.Event()
        self.job = CampaignJob(
            store,
            generators,
            generation=generation or GenerationOptions(concurrency=settings.generator_concurrency),
            stopping=self._stopping,
        )
        self._listener: psycopg.Connection | None = None
        self._holds_slot = False
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._serve, name=f"processor-{self.partition}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._close_listener()

    # ---------------------------------------------------------------- work
    def run_once(self) -> bool:
        """Follow the log, then work one due job of this partition. True if it did work."""
        followed = self.queue.follow() > 0
        if not self._hold_slot():
            return followed
        job = self.queue.take(self.partition)
        if job is None:
            return followed
        self._work(job)
        return True

    def run_until_idle(self, max_rounds: int = 10_000) -> None:
        for _ in range(max_rounds):
            if not self.run_once():
                return

    def _work(self, job: QueuedJob) -> None:
        try:
            campaign = self.store.get_campaign(job.campaign_id)
            error = self.job.process(campaign)
        except CampaignNotFound:
            error = None
        except JobInterrupted:
            return  # stays queued as it is
        except Exception as failure:  # keep serving; the job is deferred, not lost
            log.exception("job for campaign %s failed; deferring it", job.campaign_id)
            error = f"{type(failure).__name__}: {failure}"
        if error is None:
            self.queue.done(job)
        else:
            self.queue.defer(job, error)

    def _serve(self) -> None:
        log.info("processor %s started", self.partition)
        while not self._stopping.is_set():
            try:
                worked = self.run_once()
            except Exception:
                log.exception("processor %s: database error; retrying", self.partition)
                self._close_listener()
                self._stopping.wait(self.poll_interval)
                continue
            if not worked:
                self._wait_for_notification()
        log.info("processor %s stopped", self.partition)

    # ---------------------------------------------------------------- slot lock, LISTEN
    def _hold_slot(self) -> bool:
        listener = self._ensure_listener()
        if self._holds_slot:
            listener.execute("SELECT 1")  # a broken connection would have lost the lock
            return True
        row = listener.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", (SLOT_LOCK_CLASS, self.partition.lock_id)
        ).fetchone()
        self._holds_slot = bool(row and row[0])
        if self._holds_slot:
            log.info("processor %s holds its slot", self.partition)
        return self._holds_slot

    def _ensure_listener(self) -> psycopg.Connection:
        if self._listener is None or self._listener.closed:
            self._holds_slot = False
            self._listener = psycopg.connect(
                self.connection.conninfo(), autocommit=True, connect_timeout=5
            )
            for channel in (EVENTS_TABLE, QUEUE_CHANNEL):
                self._listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        return self._listener

    def _wait_for_notification(self) -> None:
        try:
            listener = self._ensure_listener()
            for _ in listener.notifies(timeout=min(self.poll_interval, 0.5), stop_after=1):
                pass
        except psycopg.Error:
            self._close_listener()
            self._stopping.wait(self.poll_interval)

    def _close_listener(self) -> None:
        listener, self._listener, self._holds_slot = self._listener, None, False
        if listener is not None:
            with contextlib.suppress(psycopg.Error):
                listener.close()
