"""The ``jobs`` projector: one row per run's background job, with its phase and progress.

Phases follow the processor's events: Queued (RunStarted or RunRetried), Copying
(SegmentMatched), Generating (MessageGenerated while processing), Archiving (an orphan
archived), Finalising (every item of the run done, not yet finalised), Completed
(RunFinalised, whose counts are final), Failed (RunFailed, with its error).
"""

from __future__ import annotations

from typing import Any, ClassVar

from psycopg import Cursor

from projections.decoding import count, text, uuid_hex
from projections.events import Group
from projections.projector import LAST_PER_CAMPAIGN, Projector
from projections.schema import JOB_CAMPAIGNS, JOBS

_CREATED = (
    "INSERT INTO {job_campaigns} (campaign_id, account_id)"
    f" SELECT e.cid, {uuid_hex('account_id')} FROM {{events}} AS e"
)
_STARTED = (
    "INSERT INTO {jobs} (job_uid, campaign_id, account_id, run_number, phase, copied,"
    f" generated, archived, total, error) SELECT {uuid_hex('job_uid')}, e.cid, c.account_id,"
    " {run}, 'Queued', 0, 0, 0,"
    f" {count('matched')} + {count('new')} + {count('orphaned')}, NULL"
    " FROM {events} AS e LEFT JOIN {job_campaigns} c ON c.campaign_id = e.cid"
)
_PROGRESS = {  # event type -> (counter, phase, which events count, their job's run offset)
    "SegmentMatched": ("copied", "Copying", "TRUE", 0),
    "MessageGenerated": ("generated", "Generating", "TRUE", 0),
    # Orphans are archived from the run before the job's run; superseding is not progress.
    "MessageArchived": ("archived", "Archiving", "{reason} = 'orphaned' AND {key} IS NOT NULL", 1),
}
_ENDED = {"RunFinalised": "Completed", "RunFailed": "Failed", "RunRetried": "Queued"}


def _progress(column: str, phase: str, which: str, offset: int) -> str:
    # Regenerations after a run completed (or while it is Failed) are not job progress.
    return (
        f"UPDATE {{jobs}} j SET {column} = j.{column} + u.n, phase = '{phase}'"
        f" FROM (SELECT e.cid, {{run}} + {offset} AS rn, sum(e.n) AS n FROM {{events}} AS e"
        f" WHERE {which} GROUP BY 1, 2) AS u WHERE j.campaign_id = u.cid AND j.run_number = u.rn"
        " AND j.phase NOT IN ('Completed', 'Failed')"
    )


def _ended(phase: str) -> str:
    counts = ", ".join(
        f"{c} = COALESCE((e.j -> 'counts' ->> '{c}')::int, j.{c})"
        for c in ("copied", "generated", "archived")
    )
    return (
        f"UPDATE {{jobs}} j SET phase = '{phase}', error = {text('error')}, {counts}"
        f" FROM {LAST_PER_CAMPAIGN} WHERE j.campaign_id = e.cid AND j.run_number = {{run}}"
    )


class JobsProjector(Projector):
    name = "jobs"
    tables: ClassVar[tuple[str, ...]] = (JOBS, JOB_CAMPAIGNS)

    def __init__(self, schema: str | None = None) -> None:
        super().__init__(schema)
        # Counts only grow and total is fixed, so this holds wherever a batch ends.
        self._finalising = self.sql(
            "UPDATE {jobs} SET phase = 'Finalising'"
            " WHERE campaign_id IN (SELECT e.cid FROM {events} AS e)"
            " AND phase IN ('Copying', 'Generating', 'Archiving')"
            " AND copied + generated + archived >= total"
        )
        self.handlers.update(
            {
                "CampaignCreated": self.statements(_CREATED),
                "RunStarted": self.statements(_STARTED),
                **{name: self.statements(_progress(*args)) for name, args in _PROGRESS.items()},
                **{name: self.statements(_ended(phase)) for name, phase in _ENDED.items()},
            }
        )

    def after_batch(self, cur: Cursor[Any], batch: Group) -> None:
        self._finalising.run(cur, batch)
