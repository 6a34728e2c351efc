"""Commands on campaigns: load, decide, save atomically, return the log position.

Every command is retried a bounded number of times when another writer (the processor,
another API replica) saved the campaign first; the retry reloads and decides again.
A save is never retried after a lost connection: whether its commit happened is decided
by re-reading the stream (``_save``), so events are never sent twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar
from uuid import UUID, uuid4

from application.content.groups import CustomerGroup, GroupSegments
from application.errors import (
    ConcurrentModification,
    CustomerGroupNotFound,
    DatabaseUnavailable,
    InvalidCampaignInput,
    ProviderNotConfigured,
    TemplateCannotRender,
    is_database_unavailable,
)
from application.generators import template_refusal
from application.idempotency import Claim, request_hash
from application.idempotency_records import IdempotencyRecords
from application.metadata import NO_CONTEXT, CommandContext
from application.recorder import SameTransactionWrite
from application.results import CommandResult, RerunPreview, RunStartedResult
from application.store import CampaignStore, IntegrityError
from domain.campaign import (
    SUPPORTED_PROVIDERS,
    Campaign,
    require_not_processing,
    require_published,
)
from domain.errors import CampaignNotFound
from domain.segments import Comparison, Segment

T = TypeVar("T")
CONFLICT_RETRIES = 5
log = logging.getLogger("nudgescribe.commands")


class CampaignCommands:
    """Each command is given the ``context`` it runs in (who, from where, a correlation
    id), stored as the metadata of the events it saves.

    The commands on an existing campaign may be given its ``settled_status``: the status
    the read models show once every earlier command on it was answered (the API reads it
    in the campaign's turn, ``api.gate``). From a status its rule refuses, the command is
    refused before the aggregate is loaded, with the aggregate's own rule and message; a
    status the rule accepts decides nothing, the loaded aggregate does.

    ``providers``: the generators this server has (``configured_providers`` of its
    settings, passed by the composition root); create refuses a campaign asking for
    another. Left out (tests and tools that run no processor), every provider is accepted.
    """

    def __init__(
        self,
        store: CampaignStore,
        groups: GroupSegments,
        idempotency: IdempotencyRecords,
        *,
        providers: Collection[str] = SUPPORTED_PROVIDERS,
    ) -> None:
        self.store = store
        self.groups = groups
        self.idempotency = idempotency
        self.providers = frozenset(providers)

    # ------------------------------------------------------------------ helpers
    def load(self, account_id: UUID, campaign_id: UUID) -> Campaign:
        """Another account's campaign is answered exactly like a missing one."""
        campaign = self.store.get_campaign(campaign_id)
        if campaign.account_id != account_id:
            raise CampaignNotFound(campaign_id)
        return campaign

    def _with_retries(self, attempt: Callable[[], T]) -> T:
        for _ in range(CONFLICT_RETRIES):
            try:
                return attempt()
            except IntegrityError:
                continue
        raise ConcurrentModification(None)

    def _save(
        self,
        campaign: Campaign,
        context: CommandContext,
        also_write: SameTransactionWrite | None = None,
    ) -> int | None:
        """Save once; a commit whose outcome is unknown is decided by re-reading the stream.

        The connection can drop after COMMIT was sent: the events may be stored or not.
        Sending them again could double them, so the stream is read back instead: our last
        event there (same version, same timestamp) means the save happened.
        """
        pending = list(campaign.pending_events)
        try:
            return self.store.save_campaign(campaign, context=context, also_write=also_write)
        except IntegrityError:
            raise
        except Exception as error:
            if not pending or not is_database_unavailable(error):
                raise
            if not self._is_stored(pending[-1]):
                raise DatabaseUnavailable(f"save of {campaign.id} not committed") from error
            log.warning("connection lost at commit; the re-read found %s saved", campaign.id)
            return self.store.max_position()

    def _is_stored(self, event: Any) -> bool:
        version = event.originator_version
        stored = list(self.store.events.get(event.originator_id, gt=version - 1, lte=version))
        return bool(stored) and getattr(stored[0], "timestamp", None) == event.timestamp

    def _idempotent(
        self,
        account_id: UUID,
        key: str | None,
        fingerprint: str,
        command: Callable[[Claim | None], RunStartedResult],
    ) -> RunStartedResult:
        """Run ``command`` once per (account, key); a repeat answers the first result."""
        if key is None:
            return command(None)
        claim = self.idempotency.claim(account_id, key, fingerprint)
        if claim.replay is not None:
            return RunStartedResult.from_json(claim.replay)
        try:
            return command(claim)
        except BaseException:
            self.idempotency.release(claim)
            raise

    def _save_started(
        self,
        campaign: Campaign,
        previous_segments: dict[str, Segment],
        context: CommandContext,
        claim: Claim | None,
    ) -> RunStartedResult:
        also_write = None
        if claim is not None:
            also_write = self.idempotency.completion(
                claim,
                lambda position: self._started(campaign, previous_segments, position).to_json(),
            )
        position = self._save(campaign, context, also_write)
        return self._started(campaign, previous_segments, position)

    @staticmethod
    def _user(context: CommandContext) -> tuple[str, str]:
        return context.user_id or "system", context.ip or ""

    # ------------------------------------------------------------------ create
    def create(
        self,
        *,
        account_id: UUID,
        name: str,
        customer_group_id: UUID,
        segment_variables: Sequence[str],
        ai_config: dict[str, Any],
        campaign_id: UUID | None = None,
        idempotency_key: str | None = None,
        context: CommandContext = NO_CONTEXT,
    ) -> RunStartedResult:
        fingerprint = request_hash(
            "campaign.create",
            name=name,
            customer_group_id=customer_group_id,
            segment_variables=list(segment_variables),
            ai_config=ai_config,
        )
        return self._idempotent(
            account_id,
            idempotency_key,
            fingerprint,
            lambda claim: self._create(
                account_id,
                name,
                customer_group_id,
                segment_variables,
                ai_config,
                campaign_id,
                context,
                claim,
            ),
        )

    def _create(
        self,
        account_id: UUID,
        name: str,
        customer_group_id: UUID,
        segment_variables: Sequence[str],
        ai_config: dict[str, Any],
        campaign_id: UUID | None,
        context: CommandContext,
        claim: Claim | None,
    ) -> RunStartedResult:
        group = self.groups.find_group(account_id, customer_group_id)
        if group is None:
            raise CustomerGroupNotFound(campaign_id)
        user_id, ip = self._user(context)
        campaign = Campaign.create(
            account_id=account_id,
            name=name,
            segment_variables=segment_variables,
            ai_config=ai_config,
            customer_group_id=customer_group_id,
            created_by=user_id,
            campaign_id=campaign_id or uuid4(),
        )
        provider = campaign.ai_config.get("provider", "template")
        if provider not in self.providers:
            # Accepted, its run could only fail later, in the background: refuse it now.
            raise ProviderNotConfigured(
                campaign.id,
                f"ai_config.provider {provider!r} is not configured on this server "
                "(it has no endpoint for it)",
            )
        unknown = set(campaign.segment_variables) - self.groups.field_names(account_id)
        if unknown:
            raise InvalidCampaignInput(
                campaign.id,
                "segment_variables names undefined customer fields: " + ", ".join(sorted(unknown)),
            )
        segments = self.groups.segments(group, campaign.segment_variables)
        if provider == "template":
            refusal = template_refusal(str(campaign.ai_config["template"]), segments)
            if refusal:
                raise TemplateCannotRender(campaign.id, refusal)
        job_uid = uuid4()
        campaign.start_first_run(
            customer_group_id=group.customer_group_id,
            customer_group_name=group.name,
            segments=segments,
            job_uid=job_uid,
            initiated_by=user_id,
            ip=ip,
        )
        try:
            return self._save_started(campaign, {}, context, claim)
        except IntegrityError:
            raise ConcurrentModification(campaign.id) from None

    # ------------------------------------------------------------------ initiate
    def initiate_rerun(
        self,
        *,
        account_id: UUID,
        campaign_id: UUID,
        new_customer_group_id: UUID,
        idempotency_key: str | None = None,
        context: CommandContext = NO_CONTEXT,
        settled_status: str | None = None,
    ) -> RunStartedResult:
        """Start the next run, archive the previous one and queue the job: one atomic save."""
        fingerprint = request_hash(
            "campaign.rerun.initiate",
            campaign_id=campaign_id,
            new_customer_group_id=new_customer_group_id,
        )
        return self._idempotent(
            account_id,
            idempotency_key,
            fingerprint,
            lambda claim: self._initiate(
                account_id, campaign_id, new_customer_group_id, context, claim, settled_status
            ),
        )

    def _initiate(
        self,
        account_id: UUID,
        campaign_id: UUID,
        new_customer_group_id: UUID,
        context: CommandContext,
        claim: Claim | None,
        settled_status: str | None,
    ) -> RunStartedResult:
        # After the idempotency claim: a repeated request answers its first result.
        if settled_status is not None:
            require_published(campaign_id, settled_status)
        # The first attempt decides on this load (a 10,000-segment campaign takes a few
        # hundred ms to load), a retry reloads.
        first, group = self._rerun_target(account_id, campaign_id, new_customer_group_id)
        loaded = [first]
        user_id, ip = self._user(context)

        def attempt() -> RunStartedResult:
            campaign = loaded.pop() if loaded else self.load(account_id, campaign_id)
            campaign.check_is_published()
            campaign.check_all_messages_published()
            previous = campaign.current_run
            previous_segments = dict(previous.segments) if previous else {}
            campaign.start_rerun(
                customer_group_id=group.customer_group_id,
                customer_group_name=group.name,
                segments=self.groups.segments(group, campaign.segment_variables),
                job_uid=uuid4(),
                initiated_by=user_id,
                ip=ip,
            )
            return self._save_started(campaign, previous_segments, context, claim)

        return self._with_retries(attempt)

    def _rerun_target(
        self, account_id: UUID, campaign_id: UUID, group_id: UUID
    ) -> tuple[Campaign, CustomerGroup]:
        """The campaign and the group a rerun names: the campaign's 404 answers first."""
        campaign = self.load(account_id, campaign_id)
        group = self.groups.find_group(account_id, group_id)
        if group is None:
            raise CustomerGroupNotFound(campaign_id)
        return campaign, group

    def preview_rerun(
        self, *, account_id: UUID, campaign_id: UUID, new_customer_group_id: UUID
    ) -> RerunPreview:
        """What initiate would start now, deciding nothing and saving nothing: the same
        lookups, segments and comparison, without initiate's Published rules."""
        campaign, group = self._rerun_target(account_id, campaign_id, new_customer_group_id)
        segments = {s.key: s for s in self.groups.segments(group, campaign.segment_variables)}
        previous = campaign.current_run
        return RerunPreview(
            campaign_id=campaign.id,
            run_number=campaign.current_run_number + 1,
            previous_run_number=previous.number if previous else None,
            customer_group_id=group.customer_group_id,
            segments=segments,
            comparison=campaign.comparison_with(segments),
            previous_segments=dict(previous.segments) if previous else {},
        )

    def _started(
        self, campaign: Campaign, previous_segments: dict[str, Segment], position: int | None
    ) -> RunStartedResult:
        run = campaign.current_run
        assert run is not None
        assert position is not None
        return RunStartedResult(
            campaign_id=campaign.id,
            run_number=run.number,
            previous_run_number=run.previous_run_number,
            job_uid=run.job_uid,
            customer_group_id=run.customer_group_id,
            segments=dict(run.segments),
            comparison=Comparison(run.matched, run.new, run.orphaned),
            previous_segments=previous_segments,
            started_at=campaign.modified_on.isoformat(),
            position=position,
        )

    # ------------------------------------------------------------------ review side
    def _change(
        self,
        account_id: UUID,
        campaign_id: UUID,
        context: CommandContext,
        decide: Callable[[Campaign], int],
        settled_status: str | None = None,
    ) -> CommandResult:
        """A review-side command: each refuses a campaign that is processing."""
        if settled_status is not None:
            require_not_processing(campaign_id, settled_status)

        def attempt() -> CommandResult:
            campaign = self.load(account_id, campaign_id)
            count = decide(campaign)
            position = self._save(campaign, context)
            run = campaign.current_run
            return CommandResult(campaign.id, count, position, run.job_uid if run else None)

        return self._with_retries(attempt)

    def review(
        self,
        *,
        account_id: UUID,
        campaign_id: UUID,
        message_ids: Sequence[UUID] | None,
        decision: str,
        comment: str | None = None,
        context: CommandContext = NO_CONTEXT,
        settled_status: str | None = None,
    ) -> CommandResult:
        user_id, _ = self._user(context)
        return self._change(
            account_id,
            campaign_id,
            context,
            lambda c: c.review(
                message_ids=message_ids, decision=decision, reviewed_by=user_id, comment=comment
            ),
            settled_status,
        )

    def edit(
        self,
        *,
        account_id: UUID,
        campaign_id: UUID,
        message_id: UUID,
        content: str,
        context: CommandContext = NO_CONTEXT,
        settled_status: str | None = None,
    ) -> CommandResult:
        user_id, _ = self._user(context)

        def decide(c: Campaign) -> int:
            c.edit(message_id=message_id, content=content, edited_by=user_id)
            return 1

        return self._change(account_id, campaign_id, context, decide, settled_status)

    def regenerate(
        self,
        *,
        account_id: UUID,
        campaign_id: UUID,
        message_id: UUID,
        context: CommandContext = NO_CONTEXT,
        settled_status: str | None = None,
    ) -> CommandResult:
        user_id, _ = self._user(context)

        def decide(c: Campaign) -> int:
            c.request_regeneration(message_id=message_id, requested_by=user_id)
            return 1

        return self._change(account_id, campaign_id, context, decide, settled_status)

    def publish(
        self,
        *,
        account_id: UUID,
        campaign_id: UUID,
        context: CommandContext = NO_CONTEXT,
        settled_status: str | None = None,
    ) -> CommandResult:
        user_id, _ = self._user(context)
        return self._change(
            account_id,
            campaign_id,
            context,
            lambda c: c.publish(published_by=user_id),
            settled_status,
        )

    def retry(
        self, *, account_id: UUID, campaign_id: UUID, context: CommandContext = NO_CONTEXT
    ) -> CommandResult:
        def decide(c: Campaign) -> int:
            c.retry_run()
            return 1

        return self._change(account_id, campaign_id, context, decide)
