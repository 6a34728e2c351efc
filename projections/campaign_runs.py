"""The ``campaign_runs`` projector: campaigns, run history, run segments and messages.

One projector owns the four tables because they derive from each other: a message takes
its segment values from its run's segments, and a campaign's status and message counts
follow its current run's messages. A message changes through the domain's own ``Message``
methods, and the campaign's status through the domain's rule, so the read models apply
exactly what the aggregate applies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from domain.model import Message, awaits_approval, follows_its_messages, status_after_review
from domain.statuses import CampaignStatus, MessageStatus, RunStatus
from projections.fold import Row, Rows, Touch
from projections.projector import Handler, Projector
from projections.reader import Event
from projections.schema import CAMPAIGN_TABLE, MESSAGE_TABLE, RUN_TABLE, SEGMENT_TABLE

ZERO_COUNTS = {status.value: 0 for status in MessageStatus}
MESSAGE_FIELDS = (
    "message_id", "segment_key", "content", "origin", "copied_from_message_id", "status",
    "review_status", "approval_stage", "archive_reason",
)  # fmt: skip


# ------------------------------------------------------------------ the rows an event names
def run(event: Event) -> Touch:
    return Touch(RUN_TABLE, (event.campaign_id, event["run_number"]))


def message_key(event: Event) -> tuple[Any, ...]:
    return (event.campaign_id, event["run_number"], event["segment_key"])


def message(event: Event) -> Touch:
    return Touch(MESSAGE_TABLE, message_key(event))


def new_message(event: Event) -> list[Touch]:
    return [message(event), Touch(SEGMENT_TABLE, message_key(event))]


def archived_messages(event: Event) -> list[Touch]:
    if event["segment_key"] is None:  # the whole run
        return [Touch(MESSAGE_TABLE, (event.campaign_id, event["run_number"]))]
    return [message(event)]


def run_started_touches(event: Event) -> list[Touch]:
    previous = event["previous_run_number"]
    return [] if previous is None else [Touch(RUN_TABLE, (event.campaign_id, previous))]


def new_run(event: Event) -> list[Touch]:
    key = (event.campaign_id, event["run_number"])
    return [Touch(table, key) for table in (RUN_TABLE, SEGMENT_TABLE, MESSAGE_TABLE)]


# ------------------------------------------------------------------ shared steps
def counted_status(campaign: Row | None, row: Row) -> str | None:
    """The status a message adds to its campaign's counts (active current-run ones only)."""
    if campaign is None or row["run_number"] != campaign["current_run_number"]:
        return None
    return None if row["archive_reason"] is not None else row["status"]


def recount(campaign: Row | None, before: str | None, after: str | None) -> None:
    if campaign is None or before == after:
        return
    counts = campaign["message_counts"]
    if before is not None:
        counts[before] = counts.get(before, 0) - 1
    if after is not None:
        counts[after] = counts.get(after, 0) + 1


def change_message(rows: Rows, event: Event, row: Row, change: Callable[[Message], None]) -> None:
    """Apply a ``Message`` method to a message row, keeping its campaign's counts."""
    owner = rows.read(CAMPAIGN_TABLE, event.campaign_id)
    before = counted_status(owner, row)
    state = Message(**{field: row[field] for field in MESSAGE_FIELDS})
    change(state)
    row.update(vars(state))
    recount(owner, before, counted_status(owner, row))


def add_message(rows: Rows, event: Event, state: Message) -> None:
    segment = rows.read(SEGMENT_TABLE, event.campaign_id, event["run_number"], state.segment_key)
    if segment is None:
        raise LookupError(f"no segment {state.segment_key!r} in run {event['run_number']}")
    row: Row = {
        "campaign_id": event.campaign_id,
        "run_number": event["run_number"],
        "segment": segment["segment_values"],
        "customer_count": segment["customer_count"],
        **vars(state),
        "archived_at": None,
        "created_at": event.timestamp,
        "published_at": None,
    }
    rows.add(MESSAGE_TABLE, row)
    owner = rows.read(CAMPAIGN_TABLE, event.campaign_id)
    recount(owner, None, counted_status(owner, row))


def follow_messages(rows: Rows, event: Event) -> None:
    """After a review-side change the campaign's status (and its current run's) follows
    its messages: the domain's rule, over the counts kept here."""
    owner = rows.get(CAMPAIGN_TABLE, event.campaign_id)
    if owner is None or not follows_its_messages(owner["status"]):
        return
    awaiting = sum(n for status, n in owner["message_counts"].items() if awaits_approval(status))
    owner["status"] = status_after_review(awaiting)
    current = rows.get(RUN_TABLE, event.campaign_id, owner["current_run_number"])
    if current is not None:
        current["status"] = owner["status"]


def set_run_status(rows: Rows, event: Event, status: str, completed: bool | None) -> None:
    """A run's lifecycle event: its status and its campaign's (``completed``: True stamps
    the completion time, False clears it, None keeps it)."""
    found = rows.get(RUN_TABLE, event.campaign_id, event["run_number"])
    if found is not None:
        found["status"] = status
        if completed is not None:
            found["completed_at"] = event.timestamp if completed else None
    owner = rows.get(CAMPAIGN_TABLE, event.campaign_id)
    if owner is not None:
        owner["status"] = status


# ------------------------------------------------------------------ one handler per event
def campaign_created(rows: Rows, event: Event) -> None:
    rows.add(
        CAMPAIGN_TABLE,
        {
            "campaign_id": event.campaign_id,
            "account_id": event["account_id"],
            "name": event["name"],
            "status": CampaignStatus.PROCESSING,
            "current_run_number": 0,
            "customer_group_id": event["customer_group_id"],
            "segment_variables": event["segment_variables"],
            "ai_config": event["ai_config"],
            "message_counts": dict(ZERO_COUNTS),
            "created_at": event.timestamp,
            "updated_at": event.timestamp,
        },
    )


def run_started(rows: Rows, event: Event) -> None:
    cid, number, segments = event.campaign_id, event["run_number"], event["segments"]
    previous = event["previous_run_number"]
    superseded = None if previous is None else rows.get(RUN_TABLE, cid, previous)
    if superseded is not None:
        superseded["status"] = RunStatus.SUPERSEDED
    rows.add(
        RUN_TABLE,
        {
            "campaign_id": cid,
            "run_number": number,
            "customer_group_id": event["customer_group_id"],
            "customer_group_name": event["customer_group_name"],
            "segment_count": len(segments),
            "status": RunStatus.PROCESSING,
            "matched": len(event["matched"]),
            "new": len(event["new"]),
            "orphaned": len(event["orphaned"]),
            "initiated_by": event["initiated_by"],
            "initiated_from_ip": event["ip"],
            "job_uid": event["job_uid"],
            "started_at": event.timestamp,
            "completed_at": None,
        },
    )
    for segment in segments:
        rows.add(
            SEGMENT_TABLE,
            {
                "campaign_id": cid,
                "run_number": number,
                "segment_key": segment["key"],
                "segment_values": segment["values"],
                "customer_count": segment["customer_count"],
            },
        )
    owner = rows.get(CAMPAIGN_TABLE, cid)
    if owner is not None:
        owner.update(
            status=CampaignStatus.PROCESSING,
            current_run_number=number,
            customer_group_id=event["customer_group_id"],
            message_counts=dict(ZERO_COUNTS),  # the new run has no messages yet
        )


def segment_matched(rows: Rows, event: Event) -> None:
    copy = Message.copied(
        event["message_id"],
        event["segment_key"],
        event["content"],
        event["copied_from_message_id"],
    )
    add_message(rows, event, copy)


def message_generated(rows: Rows, event: Event) -> None:
    found = rows.get(MESSAGE_TABLE, *message_key(event))
    content = event["content"]
    if found is None:
        add_message(
            rows, event, Message.generated(event["message_id"], event["segment_key"], content)
        )
    else:
        change_message(rows, event, found, lambda state: state.regenerated(content))
    follow_messages(rows, event)


def message_archived(rows: Rows, event: Event) -> None:
    reason, key = event["reason"], event["segment_key"]
    if key is None:
        targets = rows.starting_with(MESSAGE_TABLE, event.campaign_id, event["run_number"])
    else:
        found = rows.get(MESSAGE_TABLE, event.campaign_id, event["run_number"], key)
        targets = [] if found is None else [found]
    for row in targets:
        change_message(rows, event, row, lambda state: state.archive(reason))
        row["archived_at"] = row["archived_at"] or event.timestamp  # the first archive's


def message_changed(change: Callable[[Event], Callable[[Message], None]]) -> Handler:
    """A handler applying one ``Message`` method to the event's message, after which the
    campaign's status follows its messages."""

    def apply(rows: Rows, event: Event) -> None:
        found = rows.get(MESSAGE_TABLE, *message_key(event))
        if found is not None:
            change_message(rows, event, found, change(event))
        follow_messages(rows, event)

    return Handler(apply, lambda event: [message(event), run(event)])


def message_published(rows: Rows, event: Event) -> None:
    found = rows.get(MESSAGE_TABLE, *message_key(event))
    if found is not None:
        change_message(rows, event, found, Message.published)
        found["published_at"] = event.timestamp


def lifecycle(status: Callable[[Event], str], completed: bool | None) -> Handler:
    return Handler(
        lambda rows, event: set_run_status(rows, event, status(event), completed),
        lambda event: [run(event)],
    )


class CampaignRunsProjector(Projector):
    name = "campaign_runs"
    tables: ClassVar[tuple[Any, ...]] = (CAMPAIGN_TABLE, RUN_TABLE, SEGMENT_TABLE, MESSAGE_TABLE)
    handlers: ClassVar[dict[str, Handler]] = {
        "CampaignCreated": Handler(campaign_created),
        "RunStarted": Handler(run_started, run_started_touches, creates=new_run),
        "SegmentMatched": Handler(segment_matched, new_message),
        "MessageGenerated": Handler(message_generated, lambda e: [*new_message(e), run(e)]),
        "MessageArchived": Handler(message_archived, archived_messages),
        "MessageReviewed": message_changed(lambda e: lambda m: m.reviewed(e["decision"])),
        "MessageEdited": message_changed(lambda e: lambda m: m.edited(e["content"])),
        "MessageRegenerationRequested": message_changed(lambda e: Message.regeneration_requested),
        "MessageRegenerationFailed": message_changed(lambda e: lambda m: None),
        "MessagePublished": Handler(message_published, lambda event: [message(event)]),
        "RunFinalised": lifecycle(lambda e: e["campaign_status"], completed=True),
        "RunFailed": lifecycle(lambda e: RunStatus.FAILED, completed=None),
        "RunRetried": lifecycle(lambda e: RunStatus.PROCESSING, completed=False),
        "CampaignPublished": lifecycle(lambda e: RunStatus.PUBLISHED, completed=None),
    }

    def window_touches(self, events: Sequence[Event]) -> list[Touch]:
        return [Touch(CAMPAIGN_TABLE, (cid,)) for cid in {e.campaign_id for e in events}]

    def after_window(self, rows: Rows, events: Sequence[Event]) -> None:
        """A campaign's ``updated_at`` is its latest event's time."""
        latest: dict[Any, datetime] = {}
        for event in events:
            latest[event.campaign_id] = max(
                event.timestamp, latest.get(event.campaign_id, event.timestamp)
            )
        for campaign_id, moment in latest.items():
            owner = rows.get(CAMPAIGN_TABLE, campaign_id)
            if owner is not None:
                owner["updated_at"] = max(owner["updated_at"], moment)
