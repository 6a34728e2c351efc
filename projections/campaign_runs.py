"""The ``campaign_runs`` projector: campaigns, run history, run segments and messages.

One projector owns the four tables because they derive from each other: a message takes
its segment values from its run's segments, and a campaign's status and message counts
follow its current run's messages (``projections.messages``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from domain.statuses import CampaignStatus, MessageStatus, RunStatus
from projections import messages
from projections.fold import Rows, Touch
from projections.projector import Handler, Projector
from projections.reader import Event
from projections.schema import CAMPAIGN_TABLE, MESSAGE_TABLE, RUN_TABLE, SEGMENT_TABLE

# A new campaign's or run's counts start from the statuses every version has counted, so
# rows written before ``Generation failed`` existed equal a fold of the same log; that
# status is counted when a message first has it (the API shows every status, zero or not).
ZERO_COUNTS = {
    status.value: 0 for status in MessageStatus if status != MessageStatus.GENERATION_FAILED
}


# ------------------------------------------------------------------ the rows an event names
def run_started_touches(event: Event) -> list[Touch]:
    previous = event["previous_run_number"]
    return [] if previous is None else [Touch(RUN_TABLE, (event.campaign_id, previous))]


def new_run(event: Event) -> list[Touch]:
    key = (event.campaign_id, event["run_number"])
    return [Touch(table, key) for table in (RUN_TABLE, SEGMENT_TABLE, MESSAGE_TABLE)]


# ------------------------------------------------------------------ shared steps
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


def lifecycle(status: Callable[[Event], str], completed: bool | None) -> Handler:
    return Handler(
        lambda rows, event: set_run_status(rows, event, status(event), completed),
        lambda event: [messages.run(event)],
    )


class CampaignRunsProjector(Projector):
    name = "campaign_runs"
    tables: ClassVar[tuple[Any, ...]] = (CAMPAIGN_TABLE, RUN_TABLE, SEGMENT_TABLE, MESSAGE_TABLE)
    handlers: ClassVar[dict[str, Handler]] = {
        "CampaignCreated": Handler(
            campaign_created, creates=lambda event: [Touch(CAMPAIGN_TABLE, (event.campaign_id,))]
        ),
        "RunStarted": Handler(run_started, run_started_touches, creates=new_run),
        **messages.HANDLERS,
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
