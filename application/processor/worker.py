"""The background processor: follow the log into the queue, work the jobs it claims.

Any number of processors run side by side, each claiming one job at a time under a
lease (application/processor/queue.py): nothing to configure per process, and any may
start or stop at any time. The process waits on LISTEN (the event log's channel and the
queue's) and polls as a fallback, so a lost notification, or a lease that expired,
delays work by at most ``poll_interval``.
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
from application.processor.queue import QUEUE_CHANNEL, JobQueue, QueuedJob, processor_name
from application.settings import Settings
from application.store import EVENTS_TABLE, CampaignStore
from domain.errors import CampaignNotFound

log = logging.getLogger(__name__)


class Processor:
    def __init__(
        self,
        store: CampaignStore,
        pool: ConnectionPool,
        connection: ConnectionInfo,
        generators: Mapping[str, Generator],
        settings: Settings,
        *,
        poll_interval: float = 1.0,
        generation: GenerationOptions | None = None,
    ) -> None:
        self.store = store
        self.connection = connection
        self.name = processor_name()
        self.poll_interval = poll_interval
        self.queue = JobQueue(pool, self.name, settings.processor_lease_seconds)
        self._stopping = threading.Event()
        self.job = CampaignJob(
            store,
            generators,
            generation=generation or GenerationOptions(concurrency=settings.generator_concurrency),
        )
        self._listener: psycopg.Connection | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._serve, name=f"processor-{self.name}", daemon=True
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
        """Follow the log, then claim and work one due job. True if it did work."""
        followed = self.queue.follow() > 0
        job = self.queue.claim()
        if job is None:
            return followed
        self._work(job)
        return True

    def run_until_idle(self, max_rounds: int = 10_000) -> None:
        for _ in range(max_rounds):
            if not self.run_once():
                return

    def _work(self, job: QueuedJob) -> None:
        with self.queue.heartbeat(job) as lost:
            try:
                campaign = self.store.get_campaign(job.campaign_id)
                error = self.job.process(
                    campaign, halted=lambda: self._stopping.is_set() or lost.is_set()
                )
            except CampaignNotFound:
                error = None
            except JobInterrupted:
                self.queue.release(job)  # stays queued, for any processor to take now
                return
            except Exception as failure:  # keep serving; the job is deferred, not lost
                log.exception("job for campaign %s failed; deferring it", job.campaign_id)
                error = f"{type(failure).__name__}: {failure}"
        if error is None:
            self.queue.done(job)
        else:
            self.queue.defer(job, error)

    def _serve(self) -> None:
        log.info("processor %s started", self.name)
        while not self._stopping.is_set():
            try:
                worked = self.run_once()
            except Exception:
                log.exception("processor %s: database error; retrying", self.name)
                self._close_listener()
                self._stopping.wait(self.poll_interval)
                continue
            if not worked:
                self._wait_for_notification()
        log.info("processor %s stopped", self.name)

    # ---------------------------------------------------------------- LISTEN
    def _ensure_listener(self) -> psycopg.Connection:
        if self._listener is None or self._listener.closed:
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
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(psycopg.Error):
                listener.close()
