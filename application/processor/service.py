"""Run the processor as a process of its own (``nudgescribe processor``)."""

from __future__ import annotations

import logging
import signal
import threading

from application.database import ConnectionInfo, open_pool, resolve_database_url
from application.generators import build_generators
from application.processor.worker import Processor
from application.settings import Settings
from application.store import CampaignStore, store_env
from application.webhooks.dispatcher import WebhookDispatcher

log = logging.getLogger(__name__)


def run_processor(settings: Settings, stop: threading.Event | None = None) -> None:
    """Serve until SIGTERM/SIGINT (or ``stop`` is set). Migrates first: idempotent."""
    from application.migrate import migrate  # migrate imports this package's DDL

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    connection = ConnectionInfo.from_url(
        resolve_database_url(settings.database_url, settings.data_dir)
    )
    pool = open_pool(connection, max_size=4, name="nudgescribe-processor")
    store: CampaignStore | None = None
    processor: Processor | None = None
    dispatcher: WebhookDispatcher | None = None
    try:
        migrate(connection, pool)
        store = CampaignStore(
            store_env(
                connection,
                pool_size=settings.pool_size,
                lock_timeout_seconds=settings.lock_timeout_seconds,
            ),
            snapshot_every=settings.snapshot_every,
        )
        processor = Processor(store, pool, connection, build_generators(settings), settings)
        processor.start()
        dispatcher = WebhookDispatcher(connection, settings)  # delivers the webhooks
        dispatcher.start()
        log.info("processor %s serving; stop with SIGTERM", processor.name)
        stop.wait()
    finally:
        if dispatcher is not None:
            dispatcher.stop()
        if processor is not None:
            processor.stop()
        if store is not None:
            store.close()
        pool.close()
