"""The ``jobs`` projector: one row per run's background job, with its phase and progress.

Phases follow the processor's events: Queued (RunStarted or RunRetried), Copying
(SegmentMatched), Generating (MessageGenerated or MessageGenerationFailed while
processing; a failed segment is counted as ``failed``), Archiving (an orphan
archived), Finalising (every item of the run done, not yet finalised), Completed
(RunFinalised, whose counts are final), Failed (RunFailed, with its error).
"""

from __future__ import annotations

from typing import Any, ClassVar

from domain.statuses import ArchiveReason, JobPhase
from projections.fold import Rows, Touch
from projections.projector import Handler, Projector
from projections.reader import Event
from projections.schema import JOB_CAMPAIGN_TABLE, JOB_TABLE

ENDED = (JobPhase.COMPLETED, JobPhase.FAILED)
COUNTERS = ("copied", "generated", "failed", "archived")
WORKING = (JobPhase.COPYING, JobPhase.GENERATING, JobPhase.ARCHIVING)


def job(event: Event, run_offset: int = 0) -> Touch:
    return Touch(JOB_TABLE, (event.campaign_id, event["run_number"] + run_offset))


def campaign_created(rows: Rows, event: Event) -> None:
    rows.add(
        JOB_CAMPAIGN_TABLE, {"campaign_id": event.campaign_id, "account_id": event["account_id"]}
    )


def run_started(rows: Rows, event: Event) -> None:
    owner = rows.read(JOB_CAMPAIGN_TABLE, event.campaign_id)
    if owner is None:
        raise LookupError(f"run started for unknown campaign {event.campaign_id}")
    rows.add(
        JOB_TABLE,
        {
            "job_uid": event["job_uid"],
            "campaign_id": event.campaign_id,
            "account_id": owner["account_id"],
            "run_number": event["run_number"],
            "phase": JobPhase.QUEUED,
            "copied": 0,
            "generated": 0,
            "archived": 0,
            "failed": 0,
            "total": len(event["matched"]) + len(event["new"]) + len(event["orphaned"]),
            "error": None,
        },
    )


def progress(counter: str, phase: JobPhase, run_offset: int = 0) -> Handler:
    """One more item of the job done. Regenerations after a run completed (or while it is
    Failed) are not job progress; orphans are archived from the run before the job's."""

    def apply(rows: Rows, event: Event) -> None:
        if counter == "archived" and not is_orphan_archive(event):
            return  # superseding a whole run is not progress
        found = rows.get(JOB_TABLE, event.campaign_id, event["run_number"] + run_offset)
        if found is None or found["phase"] in ENDED:
            return
        found[counter] += 1
        found["phase"] = phase
        if sum(found[c] for c in COUNTERS) >= found["total"]:
            found["phase"] = JobPhase.FINALISING

    return Handler(apply, lambda event: [job(event, run_offset)])


def is_orphan_archive(event: Event) -> bool:
    return event["reason"] == ArchiveReason.ORPHANED and event["segment_key"] is not None


def ended(phase: JobPhase) -> Handler:
    def apply(rows: Rows, event: Event) -> None:
        found = rows.get(JOB_TABLE, event.campaign_id, event["run_number"])
        if found is None:
            return
        found["phase"] = phase
        found["error"] = event.get("error")
        for counter, value in (event.get("counts") or {}).items():
            if counter in COUNTERS:
                found[counter] = value

    return Handler(apply, lambda event: [job(event)])


class JobsProjector(Projector):
    name = "jobs"
    tables: ClassVar[tuple[Any, ...]] = (JOB_TABLE, JOB_CAMPAIGN_TABLE)
    handlers: ClassVar[dict[str, Handler]] = {
        "CampaignCreated": Handler(
            campaign_created,
            creates=lambda event: [Touch(JOB_CAMPAIGN_TABLE, (event.campaign_id,))],
        ),
        "RunStarted": Handler(
            run_started,
            lambda event: [Touch(JOB_CAMPAIGN_TABLE, (event.campaign_id,))],
            creates=lambda event: [job(event)],
        ),
        "SegmentMatched": progress("copied", JobPhase.COPYING),
        "MessageGenerated": progress("generated", JobPhase.GENERATING),
        "MessageGenerationFailed": progress("failed", JobPhase.GENERATING),
        "MessageArchived": progress("archived", JobPhase.ARCHIVING, run_offset=1),
        "RunFinalised": ended(JobPhase.COMPLETED),
        "RunFailed": ended(JobPhase.FAILED),
        "RunRetried": ended(JobPhase.QUEUED),
    }
