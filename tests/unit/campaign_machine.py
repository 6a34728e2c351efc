"""A Hypothesis state machine that drives random command sequences at a Campaign.

After every step it checks the aggregate's rules, and that the events so far,
round-tripped through the real JSON transcoder and metadata mapper, rebuild an equal
aggregate (and so does a snapshot of it); at the end of each sequence, that the read
models fold the same log into the aggregate's state. ``tests/unit`` runs it in memory;
``tests/integration`` subclasses it to save to and reload from the real store.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import JSONTranscoder, StoredEvent
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from application.metadata import MetadataMapper
from application.transcodings import register_domain_transcodings
from domain import errors
from domain.campaign import Campaign
from domain.segments import Segment
from domain.statuses import (
    ArchiveReason,
    CampaignStatus,
    Decision,
    MessageStatus,
    RunStatus,
)
from projections.campaign_runs import CampaignRunsProjector
from projections.messages import MESSAGE_FIELDS
from projections.reader import to_event
from projections.schema import CAMPAIGN_TABLE, MESSAGE_TABLE, RUN_TABLE

# A small pool of segments, so that runs share keys (matched), drop some (orphaned) and
# add others (new). "1", 1 and True are three different segments.
PLANS: list[object] = ["gold", "silver", "1", 1, True, None]
REGIONS = ["EU", "US"]
SEGMENT_POOL = [{"plan": p, "region": r} for p in PLANS for r in REGIONS]
segment_sets = st.lists(
    st.tuples(st.integers(0, len(SEGMENT_POOL) - 1), st.integers(1, 1_000_000)),
    max_size=6,
    unique_by=lambda t: t[0],
)
contents = st.text(max_size=24)
TEMPLATE = {"provider": "template", "template": "Hi {{plan}} member in {{region}}!"}


def make_mapper() -> MetadataMapper:
    """The mapper the store uses, with the same transcodings, without a database."""
    transcoder = JSONTranscoder()
    Application.register_transcodings(None, transcoder)  # type: ignore[arg-type]
    register_domain_transcodings(transcoder)
    return MetadataMapper(transcoder)


def refusal_of(action: Any) -> errors.DomainError | None:
    try:
        action()
    except errors.DomainError as raised:
        return raised
    return None


class CampaignMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.mapper = make_mapper()
        self.campaign: Campaign = None  # type: ignore[assignment]
        self.stored: list[StoredEvent] = []
        self.replica: Campaign | None = None  # rebuilt only from transcoded events
        self.run_numbers: list[int] = []
        self.segment_keys_by_run: dict[int, set[str]] = {}

    # ------------------------------------------------------------------ plumbing
    def collect(self) -> list[Any]:
        """Transcode the new events, apply them to the replica, return them decoded."""
        decoded = []
        for event in self.take_events():
            stored = self.mapper.to_stored_event(event)
            self.stored.append(stored)
            domain_event = self.mapper.to_domain_event(stored)
            self.replica = domain_event.mutate(self.replica)
            decoded.append(domain_event)
        for event in decoded:
            self.check_event(event)
        self.after_collect()
        return decoded

    def take_events(self) -> list[Any]:
        """The aggregate's new events; subclasses save them to a real store first."""
        return list(self.campaign.collect_events())

    def after_collect(self) -> None:
        """Hook for subclasses that also save to a real store."""

    def check_event(self, event: Any) -> None:
        name = type(event).__name__
        if name == "RunStarted":
            expected = self.run_numbers[-1] + 1 if self.run_numbers else 1
            assert event.run_number == expected, "run numbers increase by one"
            self.run_numbers.append(event.run_number)
            keys = {s["key"] for s in event.segments}
            self.segment_keys_by_run[event.run_number] = keys
            assert set(event.matched) | set(event.new) == keys
            assert not set(event.matched) & set(event.new)
            previous = self.segment_keys_by_run.get(event.run_number - 1, set())
            assert set(event.orphaned) == previous - keys
            assert set(event.matched) == previous & keys
        elif name == "MessageArchived":
            assert event.run_number != self.run_numbers[-1], "no archive targets the current run"
            assert event.run_number < self.run_numbers[-1]

    def expect(self, error: type[Exception] | None, action: Any) -> Any:
        """Run ``action``; it must raise exactly ``error`` (and change nothing) or succeed."""
        version = self.campaign.version
        if error is None:
            result = action()
            self.collect()
            return result
        raised = refusal_of(action)
        assert raised is not None, f"expected {error.__name__}"
        assert type(raised) is error or (
            error is errors.RuleViolation and isinstance(raised, errors.RuleViolation)
        ), f"expected {error.__name__}, got {type(raised).__name__}"
        assert raised.campaign_id == self.campaign.id
        assert self.campaign.version == version, "a refused command records nothing"
        assert self.campaign.collect_events() == []
        return None

    # ------------------------------------------------------------------ helpers
    @property
    def run(self) -> Any:
        return self.campaign.current_run

    def processing(self) -> bool:
        return self.campaign.status == CampaignStatus.PROCESSING

    def segments(self, chosen: list[tuple[int, int]]) -> list[Segment]:
        return [Segment.of(SEGMENT_POOL[i], count) for i, count in chosen]

    def current_messages(self) -> list[Any]:
        return list(self.run.messages.values()) if self.run else []

    def has_failed_messages(self) -> bool:
        return any(m.status == MessageStatus.GENERATION_FAILED for m in self.current_messages())

    # ------------------------------------------------------------------ creation
    @initialize(start=st.booleans(), chosen=segment_sets)
    def create(self, start: bool, chosen: list[tuple[int, int]]) -> None:
        self.campaign = Campaign.create(
            account_id=uuid4(),
            name=" Spring ",
            segment_variables=["plan", " region"],
            ai_config=TEMPLATE,
            customer_group_id=uuid4(),
            created_by="creator",
            campaign_id=uuid4(),
        )
        self.collect()
        if start:
            self.start_first_run(chosen)

    @rule(chosen=segment_sets)
    def start_first_run(self, chosen: list[tuple[int, int]]) -> None:
        error = errors.RuleViolation if self.campaign.current_run_number else None
        self.expect(
            error,
            lambda: self.campaign.start_first_run(
                customer_group_id=uuid4(),
                customer_group_name="first",
                segments=self.segments(chosen),
                job_uid=uuid4(),
                initiated_by="u-1",
                ip="10.0.0.1",
            ),
        )

    @rule(
        definition=st.sampled_from(
            [
                ("", ["plan"], TEMPLATE),
                ("n", [], TEMPLATE),
                ("n", ["plan", "plan "], TEMPLATE),
                ("n", ["plan"], {"provider": "other", "template": "x"}),
                ("n", ["plan"], {"provider": "template", "template": " "}),
                ("n", ["plan"], {"provider": "template", "template": "{{region}}"}),
                ("n", ["plan"], {"provider": "openai", "model": "m"}),
            ]
        )
    )
    def create_invalid(self, definition: tuple[str, list[str], dict[str, Any]]) -> None:
        name, variables, ai_config = definition
        campaign_id = uuid4()
        raised = refusal_of(
            lambda: Campaign.create(
                account_id=uuid4(),
                name=name,
                segment_variables=variables,
                ai_config=ai_config,
                customer_group_id=uuid4(),
                created_by="u",
                campaign_id=campaign_id,
            )
        )
        assert isinstance(raised, errors.InvalidCampaignDefinition)
        assert raised.campaign_id == campaign_id

    @rule(chosen=segment_sets)
    def start_rerun(self, chosen: list[tuple[int, int]]) -> None:
        error: type[Exception] | None = None
        if self.campaign.status != CampaignStatus.PUBLISHED:
            error = errors.CampaignNotPublished
        elif any(
            m.status != MessageStatus.PUBLISHED
            for m in self.current_messages()
            if not m.is_archived
        ):
            error = errors.UnpublishedMessagesExist
        previous = self.run
        self.expect(
            error,
            lambda: self.campaign.start_rerun(
                customer_group_id=uuid4(),
                customer_group_name="next",
                segments=self.segments(chosen),
                job_uid=uuid4(),
                initiated_by="u-2",
                ip="10.0.0.2",
            ),
        )
        if error is None:
            assert previous is not None
            old = self.campaign.runs[str(previous.number)]
            assert old.status == RunStatus.SUPERSEDED
            assert all(m.is_archived for m in old.messages.values())

    # ------------------------------------------------------------------ processing
    @rule(data=st.data(), redeliver=st.booleans())
    def record_copies(self, data: st.DataObject, redeliver: bool) -> None:
        pending = self.campaign.pending_copies()
        pool = sorted({*pending, *(self.run.segments if self.run else ())})
        keys = data.draw(st.lists(st.sampled_from(pool), max_size=4)) if pool else []
        run_number = self.campaign.current_run_number
        expected = len({k for k in keys if k in pending})
        recorded = self.expect(None, lambda: self.campaign.record_copied_messages(run_number, keys))
        assert recorded == expected
        if redeliver:
            again = self.expect(
                None, lambda: self.campaign.record_copied_messages(run_number, keys)
            )
            assert again == 0, "a redelivered copy is not recorded twice"

    @rule(data=st.data(), content=contents, redeliver=st.booleans())
    def record_generation(self, data: st.DataObject, content: str, redeliver: bool) -> None:
        pending = self.campaign.pending_generations()
        pool = sorted({*pending, *(self.run.segments if self.run else ()), "sg_unknown"})
        key = data.draw(st.sampled_from(pool))
        run_number = data.draw(st.sampled_from([self.campaign.current_run_number, 99]))
        expected = key in pending and run_number == self.campaign.current_run_number

        def record() -> bool:
            return self.campaign.record_generated_message(
                run_number, key, content, generator="template", model=None, prompt_digest="d"
            )

        assert self.expect(None, record) == expected
        if expected:
            message = self.run.messages[key]
            assert message.content == content
            assert message.status == MessageStatus.READY_FOR_REVIEW
            assert key not in self.run.regenerating
        if redeliver:
            assert self.expect(None, record) is False, "a redelivered generation is ignored"

    @rule(data=st.data(), error=contents, redeliver=st.booleans())
    def record_generation_failure(self, data: st.DataObject, error: str, redeliver: bool) -> None:
        pending = self.campaign.pending_generations()
        pool = sorted({*pending, *(self.run.segments if self.run else ()), "sg_unknown"})
        key = data.draw(st.sampled_from(pool))
        run_number = data.draw(st.sampled_from([self.campaign.current_run_number, 99]))
        expected = key in pending and run_number == self.campaign.current_run_number
        before = self.run.messages.get(key) if expected else None
        content = before.content if before else ""

        def record() -> bool:
            return self.campaign.record_generation_failure(run_number, key, error)

        assert self.expect(None, record) == expected
        if expected:
            message = self.run.messages[key]
            assert message.status == MessageStatus.GENERATION_FAILED
            assert message.error == error
            assert message.content == content, "a failure keeps what content there was"
            assert key not in self.run.regenerating
            assert key not in self.campaign.pending_generations()
            hypothesis_event("generation failed")
        if redeliver:
            assert self.expect(None, record) is False, "a redelivered failure is ignored"

    @rule(limit=st.one_of(st.none(), st.integers(1, 3)))
    def archive_orphans(self, limit: int | None) -> None:
        pending = len(self.campaign.pending_orphans())
        expected = pending if limit is None else min(pending, limit)
        run_number = self.campaign.current_run_number
        archived = self.expect(None, lambda: self.campaign.archive_orphans(run_number, limit))
        assert archived == expected

    @rule()
    def finalise(self) -> None:
        run_number = self.campaign.current_run_number
        unfinished = bool(
            self.campaign.pending_copies()
            or self.campaign.pending_generations()
            or self.campaign.pending_orphans()
        )
        processing = self.run is not None and self.run.status == RunStatus.PROCESSING
        if processing and unfinished:
            self.expect(errors.RuleViolation, lambda: self.campaign.finalise_run(run_number))
            return
        assert self.expect(None, lambda: self.campaign.finalise_run(run_number)) == processing
        if processing:
            run = self.run
            assert set(run.messages) == set(run.segments)
            assert self.campaign.status in (
                CampaignStatus.READY_FOR_REVIEW,
                CampaignStatus.READY_TO_PUBLISH,
            )
            assert list(self.campaign.runs) == [str(run_number)]

    @rule(error=st.text(max_size=10))
    def fail(self, error: str) -> None:
        processing = self.run is not None and self.run.status == RunStatus.PROCESSING
        run_number = self.campaign.current_run_number
        assert self.expect(None, lambda: self.campaign.fail_run(run_number, error)) == processing
        if processing:
            assert self.campaign.status == CampaignStatus.FAILED

    @rule()
    def retry(self) -> None:
        failed = self.run is not None and self.run.status == RunStatus.FAILED
        job_uid = self.expect(None if failed else errors.CampaignNotFailed, self.campaign.retry_run)
        if failed:
            assert job_uid == self.run.job_uid
            assert self.campaign.status == CampaignStatus.PROCESSING

    @rule(content=contents, refused=st.frozensets(st.integers(0, 5), max_size=2))
    def process_whole_run(self, content: str, refused: frozenset[int] = frozenset()) -> None:
        """What the processor does, all at once: biases sequences towards later runs. The
        generator refuses the pending segments at the ``refused`` places."""
        run = self.run
        if run is None or run.status != RunStatus.PROCESSING:
            return
        number = run.number
        pending = self.campaign.pending_copies()
        self.expect(None, lambda: self.campaign.record_copied_messages(number, pending))
        for index, key in enumerate(self.campaign.pending_generations()):
            if index in refused:
                self.expect(
                    None,
                    lambda key=key: self.campaign.record_generation_failure(
                        number, key, "refused: " + key
                    ),
                )
                continue
            self.expect(
                None,
                lambda key=key: self.campaign.record_generated_message(
                    number, key, content + key, generator="template", model=None, prompt_digest="d"
                ),
            )
        self.expect(None, lambda: self.campaign.archive_orphans(number))
        assert self.expect(None, lambda: self.campaign.finalise_run(number)) is True

    @rule()
    def approve_all_and_publish(self) -> None:
        """Edit every message whose generation failed, approve all, publish."""
        if self.run is None or self.campaign.status not in (
            CampaignStatus.READY_FOR_REVIEW,
            CampaignStatus.READY_TO_PUBLISH,
        ):
            return
        for message in self.current_messages():
            if (
                message.status == MessageStatus.GENERATION_FAILED
                and message.segment_key not in self.run.regenerating
            ):
                self.expect(
                    None,
                    lambda m=message: self.campaign.edit(
                        message_id=m.message_id, content="written by hand", edited_by="ed"
                    ),
                )
        self.expect(
            None,
            lambda: self.campaign.review(message_ids=None, decision="approve", reviewed_by="rev"),
        )
        if self.has_failed_messages():  # only those still queued for regeneration
            self.expect(
                errors.GenerationFailedMessagesExist,
                lambda: self.campaign.publish(published_by="pub"),
            )
            return
        self.expect(None, lambda: self.campaign.publish(published_by="pub"))
        if not self.run.regenerating:
            assert self.campaign.status == CampaignStatus.PUBLISHED
            hypothesis_event(f"published run {self.run.number}")

    @rule(chosen=segment_sets, content=contents)
    def advance(self, chosen: list[tuple[int, int]], content: str) -> None:
        """Take the campaign one stage further along its life, so sequences reach reruns."""
        if self.campaign.current_run_number == 0:
            self.start_first_run(chosen)
        elif self.campaign.status == CampaignStatus.PROCESSING:
            self.process_whole_run(content)
        elif self.campaign.status == CampaignStatus.FAILED:
            self.retry()
        elif self.campaign.status == CampaignStatus.PUBLISHED:
            self.start_rerun(chosen)
            hypothesis_event(f"rerun {self.campaign.current_run_number}")
        else:
            self.approve_all_and_publish()

    # ------------------------------------------------------------------ review side
    def message_ids(self, data: st.DataObject) -> list[UUID]:
        ids = [m.message_id for m in self.current_messages()]
        return data.draw(st.lists(st.sampled_from(ids), max_size=3)) if ids else []

    @rule(data=st.data(), decision=st.sampled_from([Decision.APPROVE, Decision.REJECT]))
    def review_some(self, data: st.DataObject, decision: str) -> None:
        ids = self.message_ids(data)
        if data.draw(st.booleans()):
            ids.append(uuid4())  # unknown message
        by_id = {m.message_id: m for m in self.current_messages()}
        error: type[Exception] | None = None
        if self.processing():
            error = errors.CampaignIsProcessing
        elif any(i not in by_id for i in ids):
            error = errors.MessageNotFound
        elif decision == Decision.REJECT and any(
            by_id[i].status == MessageStatus.PUBLISHED for i in ids
        ):
            error = errors.InvalidMessageTransition
        else:
            wanted = MessageStatus.APPROVED if decision == Decision.APPROVE else "Rejected"
            if any(
                by_id[i].status not in (wanted, MessageStatus.PUBLISHED)
                and (
                    by_id[i].segment_key in self.run.regenerating
                    or by_id[i].status == MessageStatus.GENERATION_FAILED
                )
                for i in ids
            ):
                error = errors.InvalidMessageTransition
        self.expect(
            error,
            lambda: self.campaign.review(message_ids=ids, decision=decision, reviewed_by="rev"),
        )

    @rule(decision=st.sampled_from([Decision.APPROVE, Decision.REJECT]))
    def review_all(self, decision: str) -> None:
        error = errors.CampaignIsProcessing if self.processing() else None
        reviewed = self.expect(
            error,
            lambda: self.campaign.review(message_ids=None, decision=decision, reviewed_by="rev"),
        )
        if error is None and decision == Decision.APPROVE:
            assert reviewed is not None
            settled = (MessageStatus.APPROVED, MessageStatus.PUBLISHED)
            assert all(
                m.status in settled
                or m.status == MessageStatus.GENERATION_FAILED  # only regenerate or edit help
                or m.segment_key in self.run.regenerating
                for m in self.current_messages()
            )

    @rule(data=st.data(), content=contents)
    def edit(self, data: st.DataObject, content: str) -> None:
        ids = self.message_ids(data)
        message_id = ids[0] if ids else uuid4()
        message = {m.message_id: m for m in self.current_messages()}.get(message_id)
        error: type[Exception] | None = None
        if self.processing():
            error = errors.CampaignIsProcessing
        elif message is None:
            error = errors.MessageNotFound
        elif message.segment_key in self.run.regenerating or not content.strip():
            error = errors.InvalidMessageTransition
        live = message.published_content if message is not None else None
        status = self.campaign.status
        self.expect(
            error,
            lambda: self.campaign.edit(message_id=message_id, content=content, edited_by="ed"),
        )
        if error is None:
            assert message is not None
            assert message.content == content
            # A published message's edit is a draft: its live text stays, and so does a
            # live campaign's status.
            assert message.published_content == live
            if status == CampaignStatus.PUBLISHED:
                assert self.campaign.status == CampaignStatus.PUBLISHED
            assert message.status == MessageStatus.READY_FOR_REVIEW
            assert message.error is None

    @rule(data=st.data())
    def request_regeneration(self, data: st.DataObject) -> None:
        ids = self.message_ids(data)
        message_id = ids[0] if ids else uuid4()
        message = {m.message_id: m for m in self.current_messages()}.get(message_id)
        error: type[Exception] | None = None
        if self.processing():
            error = errors.CampaignIsProcessing
        elif message is None:
            error = errors.MessageNotFound
        failed = message is not None and message.status == MessageStatus.GENERATION_FAILED
        live = message.published_content if message is not None else None
        job_uid = self.expect(
            error,
            lambda: self.campaign.request_regeneration(message_id=message_id, requested_by="r"),
        )
        if error is None:
            assert message is not None
            assert job_uid == self.run.job_uid
            assert message.segment_key in self.run.regenerating
            assert message.segment_key in self.campaign.pending_generations()
            # A failed message has nothing to approve until new content arrives.
            assert (message.status == MessageStatus.GENERATION_FAILED) == failed
            assert message.published_content == live

    @precondition(lambda self: self.campaign is not None and self.run is not None)
    @rule(error=st.text(max_size=10))
    def regenerations_fail(self, error: str) -> None:
        queued = list(self.run.regenerating)
        contents = {k: self.run.messages[k].content for k in queued}
        failed = self.expect(None, lambda: self.campaign.fail_regenerations(error))
        assert failed == len(queued)
        assert self.run.regenerating == []
        for key, content in contents.items():
            assert self.run.messages[key].content == content

    @rule()
    def publish(self) -> None:
        error: type[Exception] | None = None
        if self.processing():
            error = errors.CampaignIsProcessing
        elif self.campaign.status == CampaignStatus.FAILED:
            error = errors.RuleViolation
        elif self.has_failed_messages():
            error = errors.GenerationFailedMessagesExist
            hypothesis_event("publish refused: generation failed")
        approved = [m for m in self.current_messages() if m.status == MessageStatus.APPROVED]
        was_live = self.campaign.status == CampaignStatus.PUBLISHED
        published = self.expect(error, lambda: self.campaign.publish(published_by="pub"))
        if error is None:
            assert published == len(approved)
            assert all(m.published_content == m.content for m in approved)
            everything = not self.run.regenerating and all(
                m.status == MessageStatus.PUBLISHED for m in self.current_messages()
            )
            # A live campaign stays live while drafts of its messages wait for review.
            assert (self.campaign.status == CampaignStatus.PUBLISHED) == (everything or was_live)

    @precondition(lambda self: self.campaign is not None and self.run is not None)
    @rule()
    def archive_current_run_is_refused(self) -> None:
        self.expect(
            errors.ArchiveTargetsCurrentRun,
            lambda: self.campaign.check_archive_target(self.campaign.current_run_number),
        )

    # ------------------------------------------------------------------ invariants
    @precondition(lambda self: self.campaign is not None)
    @invariant()
    def exactly_one_current_run(self) -> None:
        campaign = self.campaign
        assert campaign.current_run_number == len(self.run_numbers)
        assert self.run_numbers == list(range(1, len(self.run_numbers) + 1))
        if campaign.current_run_number == 0:
            assert campaign.runs == {}
            assert campaign.status == CampaignStatus.PROCESSING
            return
        run = campaign.current_run
        assert run is not None
        assert run.number == campaign.current_run_number
        assert run.status != RunStatus.SUPERSEDED
        assert campaign.status == run.status
        for number, other in campaign.runs.items():
            assert int(number) == other.number
            if other is not run:
                assert other.number == run.previous_run_number == run.number - 1
                assert other.status == RunStatus.SUPERSEDED
                assert all(m.is_archived for m in other.messages.values())

    @precondition(lambda self: self.campaign is not None)
    @invariant()
    def comparison_partitions_segments(self) -> None:
        run = self.run
        if run is None:
            return
        assert set(run.matched) | set(run.new) == set(run.segments)
        assert not set(run.matched) & set(run.new)
        previous = self.segment_keys_by_run.get(run.number - 1, set())
        assert set(run.orphaned) == previous - set(run.segments)
        assert run.matched == sorted(run.matched)
        assert run.new == sorted(run.new)
        assert run.orphaned == sorted(run.orphaned)

    @precondition(lambda self: self.campaign is not None)
    @invariant()
    def messages_are_consistent(self) -> None:
        run = self.run
        if run is None:
            return
        assert set(run.messages) <= set(run.segments)
        for key, message in run.messages.items():
            assert message.segment_key == key
            assert not message.is_archived, "the current run's messages are never archived"
        assert set(run.regenerating) <= set(run.messages)
        assert len(set(run.regenerating)) == len(run.regenerating)
        # The campaign's status rule counts only messages awaiting approval: a message
        # queued for regeneration must be one of them.
        assert all(run.messages[key].awaits_approval for key in run.regenerating)
        recount = sum(m.awaits_approval for m in run.messages.values())
        assert run.awaiting_approval == recount
        for message in run.messages.values():
            # The reason is shown exactly while the message is Generation failed.
            failed = message.status == MessageStatus.GENERATION_FAILED
            assert (message.error is not None) == failed
        if run.status not in (RunStatus.PROCESSING, RunStatus.FAILED):
            # Finalised: each segment has exactly one active message.
            active = [m.segment_key for m in run.active_messages()]
            assert sorted(active) == sorted(run.segments)

    @precondition(lambda self: self.campaign is not None)
    @invariant()
    def review_status_is_derived(self) -> None:
        run = self.run
        if run is None or run.status not in (
            RunStatus.READY_FOR_REVIEW,
            RunStatus.READY_TO_PUBLISH,
        ):
            return
        ready = not run.regenerating and run.awaiting_approval == 0
        expected = RunStatus.READY_TO_PUBLISH if ready else RunStatus.READY_FOR_REVIEW
        assert run.status == expected

    @precondition(lambda self: self.campaign is not None)
    @invariant()
    def published_messages_keep_their_live_text(self) -> None:
        run = self.run
        if run is None:
            return
        for message in run.messages.values():
            # A published message serves its content; a draft of one keeps the live text.
            if message.status == MessageStatus.PUBLISHED:
                assert message.published_content == message.content
        if run.status == RunStatus.PUBLISHED:
            # Live: every message has a published text, drafts of some under review or not.
            assert self.campaign.status == CampaignStatus.PUBLISHED
            assert all(m.published_content is not None for m in run.active_messages())

    @precondition(lambda self: self.campaign is not None)
    @invariant()
    def previous_run_archive_reasons(self) -> None:
        previous = self.campaign.previous_run if self.campaign else None
        if previous is None:
            return
        orphaned = set(self.run.orphaned)
        for key, message in previous.messages.items():
            if message.archive_reason == ArchiveReason.ORPHANED:
                assert key in orphaned

    @precondition(lambda self: self.campaign is not None)
    @invariant()
    def replaying_the_events_rebuilds_the_aggregate(self) -> None:
        assert vars(self.replica) == vars(self.campaign)

    @precondition(lambda self: self.campaign is not None)
    @invariant()
    def snapshot_round_trip_equals_the_aggregate(self) -> None:
        snapshot = self.mapper.to_domain_event(
            self.mapper.to_stored_event(Snapshot.take(self.campaign))
        )
        assert vars(snapshot.mutate(None)) == vars(self.campaign)

    def teardown(self) -> None:
        if self.campaign is None:
            return
        self.read_models_fold_to_the_aggregate()
        replayed = None
        for stored in self.stored:
            replayed = self.mapper.to_domain_event(stored).mutate(replayed)
        assert vars(replayed) == vars(self.campaign), "a full replay rebuilds the aggregate"

    def read_models_fold_to_the_aggregate(self) -> None:
        """The read models apply the domain's own changes: folding the whole log gives the
        aggregate's campaign, runs and messages, and counts what it counts."""
        events = [
            to_event(position, stored.originator_id, stored.topic, stored.state)
            for position, stored in enumerate(self.stored, start=1)
        ]
        projector = CampaignRunsProjector()
        rows = projector.plan(events)
        assert not any(rows.wanted.values()), "a whole log creates every row it touches"
        projector.apply(rows, events)
        campaign = self.campaign
        row = rows.read(CAMPAIGN_TABLE, campaign.id)
        assert row is not None
        assert (row["status"], row["current_run_number"]) == (
            campaign.status,
            campaign.current_run_number,
        )
        for run in campaign.runs.values():
            run_row = rows.read(RUN_TABLE, campaign.id, run.number)
            assert run_row is not None
            assert run_row["status"] == run.status
            for key, message in run.messages.items():
                message_row = rows.read(MESSAGE_TABLE, campaign.id, run.number, key)
                assert message_row is not None
                # PostgreSQL text cannot hold NUL: the read models keep U+FFFD in its place.
                expected = {
                    **vars(message),
                    "content": message.content.replace("\x00", "\ufffd"),
                    "error": message.error and message.error.replace("\x00", "\ufffd"),
                    "published_content": message.published_content
                    and message.published_content.replace("\x00", "\ufffd"),
                }
                assert {field: message_row[field] for field in MESSAGE_FIELDS} == expected
        current = campaign.current_run
        if current is None:
            return
        active = Counter(m.status for m in current.messages.values() if not m.is_archived)
        assert {s: n for s, n in row["message_counts"].items() if n} == dict(active)
