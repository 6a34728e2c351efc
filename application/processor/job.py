"""One campaign's job: Copying -> Generating -> Archiving -> Finalising.

Every phase works from the aggregate as loaded, so a job restarted after a crash (or
queued twice) resumes where the log says it stopped. Progress is saved in batches. A
racing API write makes a save raise ``IntegrityError``: the job reloads the campaign
and carries on, since each processing command skips what is already recorded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TypeVar

from application.actors import PROCESSOR
from application.generators import Generator, SegmentRefused
from application.metadata import CommandContext
from application.processor.generation import GenerationOptions, Outcome, generate_pending
from application.store import CampaignStore, IntegrityError, snapshot_now
from domain.campaign import Campaign
from domain.errors import RuleViolation

log = logging.getLogger(__name__)
T = TypeVar("T")
CONFLICT_RETRIES = 20
Save = Callable[[Campaign], object]


class JobInterrupted(Exception):
    """The processor is stopping or lost the job's lease; the job stays queued and resumes
    from the log."""


class ConflictsPersist(Exception):
    """Another writer kept winning; the job is deferred and tried again."""


def chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class CampaignJob:
    def __init__(
        self,
        store: CampaignStore,
        generators: Mapping[str, Generator],
        *,
        generation: GenerationOptions | None = None,
        copy_batch: int = 500,
        archive_batch: int = 500,
    ) -> None:
        self.store = store
        self.generators = generators
        self.generation = generation or GenerationOptions()
        self.copy_batch = copy_batch
        self.archive_batch = archive_batch

    def process(self, campaign: Campaign, halted: Callable[[], bool]) -> str | None:
        """Do what the campaign's current run still needs. Returns an error only when the
        job could not record its outcome (then it is tried again later). Once ``halted()``
        is true no more segments are generated and ``JobInterrupted`` is raised."""
        run = campaign.current_run
        if run is None:
            return None
        context = CommandContext(
            user_id=PROCESSOR,
            account_id=str(campaign.account_id),
            ip=None,
            correlation_id=str(run.job_uid),
        )
        loaded_version = campaign.version

        # One snapshot per job, not one per ``snapshot_every`` events: each would encode
        # the whole aggregate (tens of thousands of messages) again.
        def save(c: Campaign) -> object:
            return self.store.save_campaign(c, context=context, snapshot=False)

        try:
            campaign, error = self._phases(save, campaign, run.number, halted)
        finally:
            if campaign.version - loaded_version >= self.store.snapshot_every:
                snapshot_now(self.store, campaign)
        return error

    def _phases(
        self, save: Save, campaign: Campaign, run_number: int, halted: Callable[[], bool]
    ) -> tuple[Campaign, str | None]:
        campaign = self._until_saved(save, campaign, self._copy)
        campaign, error = self._generate(save, campaign, halted)
        if halted():
            raise JobInterrupted
        if error is not None:
            if not campaign.is_processing():
                # A regeneration: no run to fail. The messages keep their content and
                # leave the queue (MessageRegenerationFailed), visible to the reviewer.
                log.warning("regeneration for campaign %s failed: %s", campaign.id, error)
                failed = self._until_saved(save, campaign, lambda c: [c.fail_regenerations(error)])
                return failed, None
            log.warning("run %s of campaign %s failed: %s", run_number, campaign.id, error)
            failed = self._until_saved(save, campaign, lambda c: [c.fail_run(run_number, error)])
            return failed, None
        campaign = self._until_saved(save, campaign, self._archive)
        try:
            campaign = self._until_saved(save, campaign, lambda c: [c.finalise_run(run_number)])
        except RuleViolation as violation:
            reason = str(violation)
            campaign = self._until_saved(save, campaign, lambda c: [c.fail_run(run_number, reason)])
        return campaign, None

    # ---------------------------------------------------------------- phases
    def _copy(self, campaign: Campaign) -> Iterator[int]:
        run = campaign.current_run
        assert run is not None
        for keys in chunks(campaign.pending_copies(), self.copy_batch):
            yield campaign.record_copied_messages(run.number, keys)

    def _archive(self, campaign: Campaign) -> Iterator[int]:
        run = campaign.current_run
        assert run is not None
        while archived := campaign.archive_orphans(run.number, limit=self.archive_batch):
            yield archived

    def _generate(
        self, save: Save, campaign: Campaign, halted: Callable[[], bool]
    ) -> tuple[Campaign, str | None]:
        if not campaign.pending_generations():
            return campaign, None
        provider = str(campaign.ai_config.get("provider", "template"))
        generator = self.generators.get(provider)
        if generator is None:
            return campaign, f"generator {provider!r} is not configured on this server"
        return asyncio.run(
            generate_pending(
                campaign,
                generator,
                lambda c, batch: self._record(save, c, batch),
                self.generation,
                halted,
            )
        )

    def _record(self, save: Save, campaign: Campaign, batch: list[tuple[str, Outcome]]) -> Campaign:
        run = campaign.current_run
        assert run is not None

        def record(c: Campaign, key: str, outcome: Outcome) -> bool:
            if isinstance(outcome, SegmentRefused):
                return c.record_generation_failure(run.number, key, outcome.reason)
            return c.record_generated_message(
                run.number,
                key,
                outcome.content,
                generator=outcome.generator,
                model=outcome.model,
                prompt_digest=outcome.prompt_digest,
                usage=outcome.usage,
                latency_ms=outcome.latency_ms,
            )

        def apply(c: Campaign) -> Iterator[bool]:
            yield any([record(c, key, outcome) for key, outcome in batch])

        return self._until_saved(save, campaign, apply)

    # ---------------------------------------------------------------- saving
    def _until_saved(
        self, save: Save, campaign: Campaign, step: Callable[[Campaign], Iterable[object]]
    ) -> Campaign:
        """Run ``step``, which yields once per batch (truthy: something was recorded), saving
        after each batch; on a version conflict reload and run the step again."""
        for _ in range(CONFLICT_RETRIES):
            try:
                for recorded in step(campaign):
                    if recorded:
                        save(campaign)
                return campaign
            except IntegrityError:
                log.info("campaign %s changed under the processor; reloading", campaign.id)
                campaign = self.store.get_campaign(campaign.id)
        raise ConflictsPersist(f"campaign {campaign.id}: conflicting writes kept winning")
