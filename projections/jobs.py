"""The ``jobs`` projector: one row per run's background job, with its phase and progress.

Phases follow the processor's events: Queued (RunStarted or RunRetried), Copying
(SegmentMatched), Generating (MessageGenerated while processing), Archiving (an orphan
archived), Finalising (every item of the run done, not yet finalised), Completed
(RunFinalised, whose counts are final), Failed (RunFailed, with its error).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar

from psycopg import Cursor

from projections.events import Event
from projections.projector import Projector, campaign_key, distinct_chunks
from projections.schema import JOB_CAMPAIGNS, JOBS

_PROGRESS = {  # event type -> (counter column, phase)
    "SegmentMatched": ("copied", "Copying"),
    "MessageGenerated": ("generated", "Generating"),
    "MessageArchived": ("archived", "Archiving"),
}


class JobsProjector(Projector):
    name = "jobs"
    tables: ClassVar[tuple[str, ...]] = (JOBS, JOB_CAMPAIGNS)

    def __init__(self, schema: str | None = None) -> None:
        super().__init__(schema)
        self._created = self.sql(
            "INSERT INTO {job_campaigns} (campaign_id, account_id)"
            " SELECT * FROM unnest(%s::uuid[], %s::uuid[])"
        )
        self._started = self.sql(
            "INSERT INTO {jobs} (job_uid, campaign_id, account_id, run_number, phase, copied,"
            " generated, archived, total, error) SELECT u.job, u.id, c.account_id, u.rn, 'Queued',"
            " 0, 0, 0, u.total, NULL FROM unnest(%s::uuid[], %s::uuid[], %s::int[], %s::int[])"
            " AS u(job, id, rn, total) LEFT JOIN {job_campaigns} c ON c.campaign_id = u.id"
        )
        self._progress = {
            event_type: self.sql(
                f"UPDATE {{jobs}} j SET {column} = j.{column} + u.n, phase = '{phase}'"
                " FROM unnest(%s::uuid[], %s::int[], %s::int[]) AS u(id, rn, n)"
                " WHERE j.campaign_id = u.id AND j.run_number = u.rn"
                " AND j.phase NOT IN ('Completed', 'Failed')"
            )
            for event_type, (column, phase) in _PROGRESS.items()
        }
        self._ended = self.sql(
            "UPDATE {jobs} j SET phase = u.phase, error = u.error,"
            " copied = COALESCE(u.copied, j.copied),"
            " generated = COALESCE(u.generated, j.generated),"
            " archived = COALESCE(u.archived, j.archived) FROM unnest(%s::uuid[], %s::int[],"
            " %s::text[], %s::text[], %s::int[], %s::int[], %s::int[])"
            " AS u(id, rn, phase, error, copied, generated, archived)"
            " WHERE j.campaign_id = u.id AND j.run_number = u.rn"
        )
        # Counts only grow and total is fixed, so this holds wherever a batch ends.
        self._finalising = self.sql(
            "UPDATE {jobs} SET phase = 'Finalising' WHERE campaign_id = ANY(%s::uuid[])"
            " AND phase IN ('Copying', 'Generating', 'Archiving')"
            " AND copied + generated + archived >= total"
        )
        self.handlers.update(
            {
                "CampaignCreated": self.on_created,
                "RunStarted": self.on_run_started,
                "RunFinalised": self.on_ended,
                "RunFailed": self.on_ended,
                "RunRetried": self.on_ended,
                **{name: self.on_progress for name in _PROGRESS},
            }
        )

    def on_created(self, cur: Cursor[Any], events: list[Event]) -> None:
        cur.execute(
            self._created, ([e.campaign_id for e in events], [e.data["account_id"] for e in events])
        )

    def on_run_started(self, cur: Cursor[Any], events: list[Event]) -> None:
        data = [e.data for e in events]
        cur.execute(
            self._started,
            (
                [d["job_uid"] for d in data],
                [e.campaign_id for e in events],
                [d["run_number"] for d in data],
                [len(d["matched"]) + len(d["new"]) + len(d["orphaned"]) for d in data],
            ),
        )

    def on_progress(self, cur: Cursor[Any], events: list[Event]) -> None:
        if events[0].type == "MessageArchived":
            # Only orphans count; they are archived from the run before the job's run.
            orphans = [e for e in events if e.data["reason"] == "orphaned" and e.data["message_id"]]
            counts = Counter((e.campaign_id, e.data["run_number"] + 1) for e in orphans)
        else:
            counts = Counter((e.campaign_id, e.data["run_number"]) for e in events)
        if counts:
            cur.execute(
                self._progress[events[0].type],
                ([k[0] for k in counts], [k[1] for k in counts], list(counts.values())),
            )

    def on_ended(self, cur: Cursor[Any], events: list[Event]) -> None:
        phase = {"RunFinalised": "Completed", "RunFailed": "Failed", "RunRetried": "Queued"}
        for chunk in distinct_chunks(events, campaign_key):
            counts = [e.data.get("counts") or {} for e in chunk]
            cur.execute(
                self._ended,
                (
                    [e.campaign_id for e in chunk],
                    [e.data["run_number"] for e in chunk],
                    [phase[e.type] for e in chunk],
                    [e.data.get("error") for e in chunk],
                    [c.get("copied") for c in counts],
                    [c.get("generated") for c in counts],
                    [c.get("archived") for c in counts],
                ),
            )

    def after_batch(self, cur: Cursor[Any], events: Sequence[Event]) -> None:
        cur.execute(self._finalising, (list({e.campaign_id: None for e in events}),))
