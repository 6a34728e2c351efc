"""The Campaign aggregate: one event stream per campaign, holding its runs and messages.

Command methods (public verbs) check the rules and decide; the ``@event`` methods
(private, past tense) only apply state, because they run again on every replay.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import errors
from domain.model import (
    Message,
    Run,
    follows_its_messages,
    message_id_for,
    status_after_review,
)
from domain.segments import Comparison, Segment, compare, normalise_name
from domain.statuses import (
    ArchiveReason,
    CampaignStatus,
    Decision,
    MessageStatus,
    Origin,
    RunStatus,
)

TEMPLATE_VARIABLE = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
SUPPORTED_PROVIDERS = ("template", "openai")


def contains_sorted(keys: list[str], key: str) -> bool:
    """Membership in a run's sorted key list without building a set per call."""
    index = bisect_left(keys, key)
    return index < len(keys) and keys[index] == key


def template_variables(template: str) -> set[str]:
    return {normalise_name(name) for name in TEMPLATE_VARIABLE.findall(template)}


# The status rules of the commands, given the status alone: the aggregate applies them to
# its own status, and the API to the status the read models show, to refuse a command
# before loading the aggregate (application.campaigns, ``settled_status``).
def require_published(campaign_id: UUID, status: str) -> None:
    """Only a Published campaign can be rerun."""
    if status != CampaignStatus.PUBLISHED:
        raise errors.CampaignNotPublished(campaign_id)


def require_not_processing(campaign_id: UUID, status: str) -> None:
    """Reviews, edits, regenerations and publishing wait for the run to finish."""
    if status == CampaignStatus.PROCESSING:
        raise errors.CampaignIsProcessing(campaign_id)


class Campaign(Aggregate):
    # Annotating ``id`` lets callers choose the campaign id (an idempotent create needs
    # to know it before the first save); Campaign.create always passes one.
    id: UUID

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(
        cls,
        *,
        account_id: UUID,
        name: str,
        segment_variables: Sequence[str],
        ai_config: Mapping[str, Any],
        customer_group_id: UUID,
        created_by: str,
        campaign_id: UUID,
    ) -> Campaign:
        variables = [normalise_name(v) for v in segment_variables]
        cls.check_definition(campaign_id, name, variables, ai_config)
        return cls(  # type: ignore[call-arg,no-any-return]  # ``id``: the chosen aggregate id
            id=campaign_id,
            account_id=account_id,
            name=name.strip(),
            segment_variables=variables,
            ai_config=dict(ai_config),
            customer_group_id=customer_group_id,
            created_by=created_by,
        )

    @staticmethod
    def check_definition(
        campaign_id: UUID | None,
        name: str,
        variables: Sequence[str],
        ai_config: Mapping[str, Any],
    ) -> None:
        def invalid(reason: str) -> errors.InvalidCampaignDefinition:
            return errors.InvalidCampaignDefinition(campaign_id, reason)

        if not name.strip():
            raise invalid("name must not be empty")
        if not variables or any(not v for v in variables):
            raise invalid("segment_variables must name at least one field")
        if len(set(variables)) != len(variables):
            raise invalid("segment_variables must not repeat a field")
        provider = ai_config.get("provider", "template")
        if provider not in SUPPORTED_PROVIDERS:
            raise invalid(f"ai_config.provider must be one of {', '.join(SUPPORTED_PROVIDERS)}")
        text_key = "template" if provider == "template" else "prompt"
        text = ai_config.get(text_key)
        if not isinstance(text, str) or not text.strip():
            raise invalid(f"ai_config.{text_key} must be a non-empty string")
        unknown = template_variables(text) - set(variables)
        if unknown:
            raise invalid(
                f"ai_config.{text_key} names variables the campaign does not segment on: "
                + ", ".join(sorted(unknown))
            )

    @event("CampaignCreated")
    def __init__(
        self,
        account_id: UUID,
        name: str,
        segment_variables: list[str],
        ai_config: dict[str, Any],
        customer_group_id: UUID,
        created_by: str,
    ) -> None:
        self.account_id = account_id
        self.name = name
        self.segment_variables = segment_variables
        self.ai_config = ai_config
        self.customer_group_id = customer_group_id
        self.created_by = created_by
        self.status: str = CampaignStatus.PROCESSING
        self.current_run_number = 0
        self.runs: dict[str, Run] = {}  # str(run number) -> run; current and previous only

    # ------------------------------------------------------------------ queries
    @property
    def current_run(self) -> Run | None:
        return self.runs.get(str(self.current_run_number))

    def run(self, run_number: int) -> Run:
        found = self.runs.get(str(run_number))
        if found is None:
            raise errors.RunNotFound(self.id)
        return found

    @property
    def previous_run(self) -> Run | None:
        current = self.current_run
        if current is None or current.previous_run_number is None:
            return None
        return self.runs.get(str(current.previous_run_number))

    def pending_copies(self) -> list[str]:
        run = self.current_run
        if run is None or run.status != RunStatus.PROCESSING:
            return []
        return [k for k in run.matched if k not in run.messages]

    def pending_generations(self) -> list[str]:
        run = self.current_run
        if run is None:
            return []
        if run.status == RunStatus.PROCESSING:
            missing = [k for k in run.new if k not in run.messages]
            return missing + [k for k in run.regenerating if k not in missing]
        return list(run.regenerating)

    def pending_orphans(self) -> list[Message]:
        run, previous = self.current_run, self.previous_run
        if run is None or previous is None or run.status != RunStatus.PROCESSING:
            return []
        found = (previous.messages.get(k) for k in run.orphaned)
        return [m for m in found if m is not None and m.archive_reason != ArchiveReason.ORPHANED]

    def is_processing(self) -> bool:
        return self.status == CampaignStatus.PROCESSING

    # ------------------------------------------------------------------ guards
    def check_is_published(self) -> None:
        require_published(self.id, self.status)

    def check_all_messages_published(self) -> None:
        run = self.current_run
        if run is None or any(m.status != MessageStatus.PUBLISHED for m in run.active_messages()):
            raise errors.UnpublishedMessagesExist(self.id)

    def check_not_processing(self) -> None:
        require_not_processing(self.id, self.status)

    def check_archive_target(self, run_number: int) -> None:
        if run_number == self.current_run_number:
            raise errors.ArchiveTargetsCurrentRun(self.id)

    def _current_message(self, message_id: UUID) -> tuple[Run, Message]:
        run = self.current_run
        message = run.messages_by_id().get(message_id) if run else None
        if run is None or message is None or message.is_archived:
            raise errors.MessageNotFound(self.id)
        return run, message

    # ------------------------------------------------------------------ runs
    def comparison_with(self, segment_keys: Iterable[str]) -> Comparison:
        """How a run of these segments would relate to the current run (the one a rerun
        supersedes): what the next run records, and what a rerun preview answers."""
        run = self.current_run
        return compare(run.segments if run else (), segment_keys)

    def start_first_run(
        self,
        *,
        customer_group_id: UUID,
        customer_group_name: str,
        segments: Iterable[Segment],
        job_uid: UUID,
        initiated_by: str,
        ip: str,
    ) -> None:
        if self.current_run_number != 0:
            raise errors.RuleViolation(self.id, "Run 1 has already started")
        self._start(customer_group_id, customer_group_name, segments, job_uid, initiated_by, ip)

    def start_rerun(
        self,
        *,
        customer_group_id: UUID,
        customer_group_name: str,
        segments: Iterable[Segment],
        job_uid: UUID,
        initiated_by: str,
        ip: str,
    ) -> None:
        """Start the next run and archive the whole previous run, as one decision."""
        self.check_is_published()
        self.check_all_messages_published()
        previous = self.current_run_number
        self._start(customer_group_id, customer_group_name, segments, job_uid, initiated_by, ip)
        self.check_archive_target(previous)
        self._message_archived(
            run_number=previous,
            message_id=None,
            segment_key=None,
            reason=ArchiveReason.SUPERSEDED,
        )

    def _start(
        self,
        customer_group_id: UUID,
        customer_group_name: str,
        segments: Iterable[Segment],
        job_uid: UUID,
        initiated_by: str,
        ip: str,
    ) -> None:
        by_key = {s.key: s for s in segments}
        previous = self.current_run
        comparison = self.comparison_with(by_key)
        self._run_started(
            run_number=self.current_run_number + 1,
            previous_run_number=previous.number if previous else None,
            customer_group_id=customer_group_id,
            customer_group_name=customer_group_name,
            segments=[
                {"key": s.key, "values": s.values, "customer_count": s.customer_count}
                for s in sorted(by_key.values(), key=lambda s: s.key)
            ],
            matched=comparison.matched,
            new=comparison.new,
            orphaned=comparison.orphaned,
            job_uid=job_uid,
            initiated_by=initiated_by,
            ip=ip,
        )

    @event("RunStarted")
    def _run_started(
        self,
        run_number: int,
        previous_run_number: int | None,
        customer_group_id: UUID,
        customer_group_name: str,
        segments: list[dict[str, Any]],
        matched: list[str],
        new: list[str],
        orphaned: list[str],
        job_uid: UUID,
        initiated_by: str,
        ip: str,
    ) -> None:
        for number in list(self.runs):
            if previous_run_number is None or int(number) < previous_run_number:
                del self.runs[number]
        if previous_run_number is not None:
            self.runs[str(previous_run_number)].status = RunStatus.SUPERSEDED
        self.runs[str(run_number)] = Run(
            number=run_number,
            customer_group_id=customer_group_id,
            customer_group_name=customer_group_name,
            job_uid=job_uid,
            segments={
                s["key"]: Segment(s["key"], dict(s["values"]), s["customer_count"])
                for s in segments
            },
            matched=list(matched),
            new=list(new),
            orphaned=list(orphaned),
            previous_run_number=previous_run_number,
            initiated_by=initiated_by,
            ip=ip,
        )
        self.current_run_number = run_number
        self.customer_group_id = customer_group_id
        self.status = CampaignStatus.PROCESSING

    # ------------------------------------------------------------------ processing
    def record_copied_messages(self, run_number: int, segment_keys: Iterable[str]) -> int:
        """Copy the previous run's approved message for matched segments not yet copied."""
        if not self._is_processing_run(run_number):
            return 0
        run, previous = self.run(run_number), self.previous_run
        matched = set(run.matched)
        recorded = 0
        for key in segment_keys:
            if key not in matched or key in run.messages or previous is None:
                continue
            source = previous.messages.get(key)
            if source is None:
                continue
            self._segment_matched(
                run_number=run_number,
                message_id=message_id_for(self.id, run_number, key),
                segment_key=key,
                copied_from_message_id=source.message_id,
                content=source.content,
            )
            recorded += 1
        return recorded

    @event("SegmentMatched")
    def _segment_matched(
        self,
        run_number: int,
        message_id: UUID,
        segment_key: str,
        copied_from_message_id: UUID,
        content: str,
    ) -> None:
        self.runs[str(run_number)].put_message(
            Message.copied(message_id, segment_key, content, copied_from_message_id)
        )

    def record_generated_message(
        self,
        run_number: int,
        segment_key: str,
        content: str,
        *,
        generator: str,
        model: str | None,
        prompt_digest: str,
        usage: Mapping[str, int | None] | None = None,
        latency_ms: float | None = None,
    ) -> bool:
        """Record new content for a new segment, or for a message queued for regeneration."""
        message_id = self._awaiting_generation(run_number, segment_key)
        if message_id is None:
            return False  # already recorded: a redelivery changes nothing
        self._message_generated(
            run_number=run_number,
            message_id=message_id,
            segment_key=segment_key,
            content=content,
            generator=generator,
            model=model,
            prompt_digest=prompt_digest,
            usage=None if usage is None else dict(usage),
            latency_ms=latency_ms,
        )
        return True

    def record_generation_failure(self, run_number: int, segment_key: str, error: str) -> bool:
        """Record that this segment's message cannot be generated (the provider refused it,
        or its output stayed unusable): the run goes on without it, and the message waits
        for a reviewer to regenerate or edit it."""
        message_id = self._awaiting_generation(run_number, segment_key)
        if message_id is None:
            return False  # already recorded: a redelivery changes nothing
        self._message_generation_failed(
            run_number=run_number,
            message_id=message_id,
            segment_key=segment_key,
            error=error[:2000],
        )
        return True

    def _awaiting_generation(self, run_number: int, segment_key: str) -> UUID | None:
        """The id of the message a generation of this segment is recorded as: a new
        segment's or one queued for regeneration; None when none is awaited."""
        run = self.current_run
        if run is None or run.number != run_number:
            return None
        existing = run.messages.get(segment_key)
        is_new = (
            run.status == RunStatus.PROCESSING
            and existing is None
            and contains_sorted(run.new, segment_key)
        )
        if not (is_new or segment_key in run.regenerating):
            return None
        return existing.message_id if existing else message_id_for(self.id, run_number, segment_key)

    class MessageGenerated(Aggregate.Event):
        """Version 2 adds what the generator reported: the provider's token ``usage``
        (``prompt_tokens``, ``completion_tokens``, ``total_tokens``) and the call's
        ``latency_ms``; null where it reported none, as in every version 1 event."""

        class_version = 2

        run_number: int
        message_id: UUID
        segment_key: str
        content: str
        generator: str
        model: str | None
        prompt_digest: str
        usage: dict[str, int | None] | None
        latency_ms: float | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["usage"] = None
            state["latency_ms"] = None

    @event(MessageGenerated)
    def _message_generated(
        self,
        run_number: int,
        message_id: UUID,
        segment_key: str,
        content: str,
        generator: str,
        model: str | None,
        prompt_digest: str,
        usage: dict[str, int | None] | None,
        latency_ms: float | None,
    ) -> None:
        self._generation_ended(
            run_number,
            segment_key,
            lambda: Message.generated(message_id, segment_key, content),
            lambda message: message.regenerated(content),
        )

    @event("MessageGenerationFailed")
    def _message_generation_failed(
        self, run_number: int, message_id: UUID, segment_key: str, error: str
    ) -> None:
        self._generation_ended(
            run_number,
            segment_key,
            lambda: Message.failed(message_id, segment_key, error),
            lambda message: message.generation_failed(error),
        )

    def _generation_ended(
        self,
        run_number: int,
        segment_key: str,
        new: Callable[[], Message],
        change: Callable[[Message], None],
    ) -> None:
        """A generation's outcome: a new segment's message, or a change to the message
        that was queued for regeneration (which leaves the queue)."""
        run = self.runs[str(run_number)]
        existing = run.messages.get(segment_key)
        if existing is None:
            run.put_message(new())
        else:
            run.change_message(existing, change)
        if segment_key in run.regenerating:
            run.regenerating.remove(segment_key)
            self._derive_review_status()

    def archive_orphans(self, run_number: int, limit: int | None = None) -> int:
        if not self._is_processing_run(run_number):
            return 0
        orphans = self.pending_orphans()[:limit]
        for message in orphans:
            previous = self.previous_run
            assert previous is not None  # there are orphans only when there is a previous run
            self.check_archive_target(previous.number)
            self._message_archived(
                run_number=previous.number,
                message_id=message.message_id,
                segment_key=message.segment_key,
                reason=ArchiveReason.ORPHANED,
            )
        return len(orphans)

    @event("MessageArchived")
    def _message_archived(
        self,
        run_number: int,
        message_id: UUID | None,
        segment_key: str | None,
        reason: str,
    ) -> None:
        # message_id None archives every message of the run (the superseded run at initiate).
        run = self.runs[str(run_number)]
        targets = run.messages.values() if segment_key is None else [run.messages[segment_key]]
        for message in list(targets):
            run.change_message(message, lambda message: message.archive(reason))

    def finalise_run(self, run_number: int) -> bool:
        if not self._is_processing_run(run_number):
            return False
        if self.pending_copies() or self.pending_generations() or self.pending_orphans():
            raise errors.RuleViolation(self.id, "Run still has unfinished work")
        run = self.run(run_number)
        # Messages may have been reviewed while the run was Failed, so the resulting status
        # follows what still awaits approval, not merely whether anything was generated.
        outcomes = Counter(
            "failed" if m.status == MessageStatus.GENERATION_FAILED else m.origin
            for m in run.messages.values()
        )
        counts = {
            "copied": outcomes[Origin.COPIED],
            "generated": outcomes[Origin.GENERATED],
            "failed": outcomes["failed"],
            "archived": len(run.orphaned),
        }
        self._run_finalised(
            run_number=run_number,
            campaign_status=status_after_review(run.awaiting_approval),
            counts=counts,
        )
        return True

    class RunFinalised(Aggregate.Event):
        """Version 2 counts the messages whose generation failed (``counts["failed"]``);
        version 1 events were written before a segment could fail alone: none failed."""

        class_version = 2

        run_number: int
        campaign_status: str
        counts: dict[str, int]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["counts"] = {**state["counts"], "failed": 0}

    @event(RunFinalised)
    def _run_finalised(self, run_number: int, campaign_status: str, counts: dict[str, int]) -> None:
        run = self.runs[str(run_number)]
        run.status = campaign_status
        self.status = campaign_status
        # The previous run's messages were needed only to copy and archive from.
        for number in list(self.runs):
            if int(number) != run_number:
                del self.runs[number]

    def fail_run(self, run_number: int, error: str) -> bool:
        if not self._is_processing_run(run_number):
            return False
        self._run_failed(run_number=run_number, error=error[:2000])
        return True

    @event("RunFailed")
    def _run_failed(self, run_number: int, error: str) -> None:
        run = self.runs[str(run_number)]
        run.status = RunStatus.FAILED
        run.error = error
        self.status = CampaignStatus.FAILED

    def retry_run(self) -> UUID:
        run = self.current_run
        if run is None or run.status != RunStatus.FAILED:
            raise errors.CampaignNotFailed(self.id)
        self._run_retried(run_number=run.number)
        return run.job_uid

    @event("RunRetried")
    def _run_retried(self, run_number: int) -> None:
        run = self.runs[str(run_number)]
        run.status = RunStatus.PROCESSING
        run.error = None
        self.status = CampaignStatus.PROCESSING

    def _is_processing_run(self, run_number: int) -> bool:
        run = self.current_run
        return run is not None and run.number == run_number and run.status == RunStatus.PROCESSING

    # ------------------------------------------------------------------ review
    def review(
        self,
        *,
        message_ids: Iterable[UUID] | None,
        decision: str,
        reviewed_by: str,
        comment: str | None = None,
    ) -> int:
        """Approve or reject messages; ``message_ids`` None means every active message."""
        self.check_not_processing()
        run = self.current_run
        assert run is not None
        if message_ids is None:
            targets = run.active_messages()
        else:
            by_id = run.messages_by_id()
            targets = []
            for message_id in message_ids:
                message = by_id.get(message_id)
                if message is None or message.is_archived:
                    raise errors.MessageNotFound(self.id)
                targets.append(message)
        wanted = MessageStatus.APPROVED if decision == Decision.APPROVE else MessageStatus.REJECTED
        # Check every target before recording anything: a refused review changes nothing.
        changes: dict[str, Message] = {}
        for message in targets:
            if message.status == wanted or (
                decision == Decision.APPROVE and message.status == MessageStatus.PUBLISHED
            ):
                continue  # already in that state: a no-op, never an error
            if message.status == MessageStatus.PUBLISHED:
                if message_ids is None:
                    continue
                raise errors.InvalidMessageTransition(
                    self.id, "Published messages cannot be rejected"
                )
            if message.segment_key in run.regenerating:
                if message_ids is None:
                    continue
                raise errors.InvalidMessageTransition(self.id, "Message is being regenerated")
            if message.status == MessageStatus.GENERATION_FAILED:
                if message_ids is None:
                    continue
                raise errors.InvalidMessageTransition(
                    self.id, "Generation failed for this message; regenerate or edit it"
                )
            changes[message.segment_key] = message
        for message in changes.values():
            self._message_reviewed(
                run_number=run.number,
                message_id=message.message_id,
                segment_key=message.segment_key,
                decision=decision,
                comment=comment,
                reviewed_by=reviewed_by,
            )
        return len(changes)

    @event("MessageReviewed")
    def _message_reviewed(
        self,
        run_number: int,
        message_id: UUID,
        segment_key: str,
        decision: str,
        comment: str | None,
        reviewed_by: str,
    ) -> None:
        run = self.runs[str(run_number)]
        run.change_message(run.messages[segment_key], lambda message: message.reviewed(decision))
        self._derive_review_status()

    def edit(self, *, message_id: UUID, content: str, edited_by: str) -> None:
        self.check_not_processing()
        run, message = self._current_message(message_id)
        if message.segment_key in run.regenerating:
            raise errors.InvalidMessageTransition(self.id, "Message is being regenerated")
        if not content.strip():
            raise errors.InvalidMessageTransition(self.id, "content must not be empty")
        self._message_edited(
            run_number=run.number,
            message_id=message_id,
            segment_key=message.segment_key,
            content=content,
            edited_by=edited_by,
        )

    @event("MessageEdited")
    def _message_edited(
        self, run_number: int, message_id: UUID, segment_key: str, content: str, edited_by: str
    ) -> None:
        run = self.runs[str(run_number)]
        run.change_message(run.messages[segment_key], lambda message: message.edited(content))
        self._derive_review_status()

    def request_regeneration(self, *, message_id: UUID, requested_by: str) -> UUID:
        self.check_not_processing()
        run, message = self._current_message(message_id)
        if message.segment_key not in run.regenerating:
            self._regeneration_requested(
                run_number=run.number,
                message_id=message_id,
                segment_key=message.segment_key,
                requested_by=requested_by,
            )
        return run.job_uid

    @event("MessageRegenerationRequested")
    def _regeneration_requested(
        self, run_number: int, message_id: UUID, segment_key: str, requested_by: str
    ) -> None:
        run = self.runs[str(run_number)]
        run.regenerating.append(segment_key)
        run.change_message(run.messages[segment_key], Message.regeneration_requested)
        self._derive_review_status()

    def fail_regenerations(self, error: str) -> int:
        """Generation kept failing for the messages queued for regeneration: they keep
        their content and leave the queue, so a reviewer can edit, approve or ask again."""
        run = self.current_run
        if run is None:
            return 0
        failed = list(run.regenerating)
        for key in failed:
            self._regeneration_failed(
                run_number=run.number,
                message_id=run.messages[key].message_id,
                segment_key=key,
                error=error[:2000],
            )
        return len(failed)

    @event("MessageRegenerationFailed")
    def _regeneration_failed(
        self, run_number: int, message_id: UUID, segment_key: str, error: str
    ) -> None:
        run = self.runs[str(run_number)]
        run.regenerating.remove(segment_key)
        self._derive_review_status()

    # ------------------------------------------------------------------ publish
    def publish(self, *, published_by: str) -> int:
        """Publish every Approved current-run message; publish the campaign when all are."""
        self.check_not_processing()
        if self.status == CampaignStatus.FAILED:
            raise errors.RuleViolation(self.id, "A Failed run must be retried before publishing")
        run = self.current_run
        assert run is not None
        if any(m.status == MessageStatus.GENERATION_FAILED for m in run.active_messages()):
            raise errors.GenerationFailedMessagesExist(self.id)
        approved = [m for m in run.active_messages() if m.status == MessageStatus.APPROVED]
        for message in approved:
            self._message_published(
                run_number=run.number,
                message_id=message.message_id,
                segment_key=message.segment_key,
                published_by=published_by,
            )
        everything_published = not run.regenerating and all(
            m.status == MessageStatus.PUBLISHED for m in run.active_messages()
        )
        if everything_published and self.status != CampaignStatus.PUBLISHED:
            self._campaign_published(run_number=run.number, published_by=published_by)
        return len(approved)

    @event("MessagePublished")
    def _message_published(
        self, run_number: int, message_id: UUID, segment_key: str, published_by: str
    ) -> None:
        run = self.runs[str(run_number)]
        run.change_message(run.messages[segment_key], Message.published)

    @event("CampaignPublished")
    def _campaign_published(self, run_number: int, published_by: str) -> None:
        self.runs[str(run_number)].status = RunStatus.PUBLISHED
        self.status = CampaignStatus.PUBLISHED

    def _derive_review_status(self) -> None:
        """After a review-side change the campaign's status follows its messages. A message
        awaiting regeneration is Ready for review, so it counts as awaiting approval."""
        run = self.current_run
        if run is None or not follows_its_messages(run.status):
            return
        self.status = run.status = status_after_review(run.awaiting_approval)
