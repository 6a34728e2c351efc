"""How the ``campaign_runs`` projector keeps its message rows, and the campaign's message
counts and status that follow them.

A message row changes through the domain's own ``Message`` methods and the campaign's
status through the domain's rule, so the read models apply exactly what the aggregate
applies. The counts are of the campaign's active current-run messages, by status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.model import Message, awaits_approval, follows_its_messages, status_after_review
from projections.fold import Row, Rows, Touch
from projections.projector import Handler
from projections.reader import Event
from projections.schema import CAMPAIGN_TABLE, MESSAGE_TABLE, RUN_TABLE, SEGMENT_TABLE

MESSAGE_FIELDS = (
    "message_id", "segment_key", "content", "origin", "copied_from_message_id", "status",
    "review_status", "approval_stage", "archive_reason", "error", "published_content",
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


# ------------------------------------------------------------------ shared steps
def counted_status(campaign: Row | None, row: Row) -> str | None:
    """The status a message adds to its campaign's counts (active current-run ones only)."""
    if campaign is None or row["run_number"] != campaign["current_run_number"]:
        return None
    # str(): a status first counted here becomes a JSON key, which must be a plain str
    return None if row["archive_reason"] is not None else str(row["status"])


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


# ------------------------------------------------------------------ one handler per event
def segment_matched(rows: Rows, event: Event) -> None:
    copy = Message.copied(
        event["message_id"],
        event["segment_key"],
        event["content"],
        event["copied_from_message_id"],
    )
    add_message(rows, event, copy)


def generation_ended(
    new: Callable[[Event], Message], change: Callable[[Event], Callable[[Message], None]]
) -> Handler:
    """A generation's outcome (the aggregate's ``_generation_ended``): a new segment's
    message, or a change to the message that was regenerated."""

    def apply(rows: Rows, event: Event) -> None:
        found = rows.get(MESSAGE_TABLE, *message_key(event))
        if found is None:
            add_message(rows, event, new(event))
        else:
            change_message(rows, event, found, change(event))
        follow_messages(rows, event)

    return Handler(apply, lambda event: [*new_message(event), run(event)])


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


HANDLERS: dict[str, Handler] = {
    "SegmentMatched": Handler(segment_matched, new_message),
    "MessageGenerated": generation_ended(
        lambda e: Message.generated(e["message_id"], e["segment_key"], e["content"]),
        lambda e: lambda m: m.regenerated(e["content"]),
    ),
    "MessageGenerationFailed": generation_ended(
        lambda e: Message.failed(e["message_id"], e["segment_key"], e["error"]),
        lambda e: lambda m: m.generation_failed(e["error"]),
    ),
    "MessageArchived": Handler(message_archived, archived_messages),
    "MessageReviewed": message_changed(lambda e: lambda m: m.reviewed(e["decision"])),
    "MessageEdited": message_changed(lambda e: lambda m: m.edited(e["content"])),
    "MessageRegenerationRequested": message_changed(lambda e: Message.regeneration_requested),
    "MessageRegenerationFailed": message_changed(lambda e: lambda m: None),
    "MessagePublished": Handler(message_published, lambda event: [message(event)]),
}
