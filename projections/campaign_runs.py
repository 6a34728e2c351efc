"""The ``campaign_runs`` projector: campaigns, run history, run segments and messages.

One projector owns the four tables because they derive from each other inside a batch:
a message takes its segment values from its run's segments, and a campaign's status and
message counts follow its current run's messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import orjson
from psycopg import Cursor

from projections.events import Event
from projections.messages import MessageHandlers
from projections.projector import campaign_key, distinct_chunks
from projections.schema import CAMPAIGNS, MESSAGES, RUNS, SEGMENTS

ZERO_COUNTS = '{{"Ready for review": 0, "Approved": 0, "Rejected": 0, "Published": 0}}'
_STATUS_TO_COMPLETED_AT = {  # how each lifecycle event sets the run's completed_at
    "RunFinalised": ("u.status", "u.ts"),
    "RunFailed": ("'Failed'", "r.completed_at"),
    "RunRetried": ("'Processing'", "NULL"),
    "CampaignPublished": ("'Published'", "r.completed_at"),
}


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class CampaignRunsProjector(MessageHandlers):
    name = "campaign_runs"
    tables: ClassVar[tuple[str, ...]] = (CAMPAIGNS, RUNS, SEGMENTS, MESSAGES)

    def __init__(self, schema: str | None = None) -> None:
        super().__init__(schema)
        self._create = self.sql(
            "INSERT INTO {campaigns} (campaign_id, account_id, name, status, current_run_number,"
            " customer_group_id, segment_variables, ai_config, message_counts, created_at,"
            " updated_at) SELECT u.id, u.account, u.name, 'Processing', 0, u.grp, u.vars::jsonb,"
            f" u.ai::jsonb, '{ZERO_COUNTS}'::jsonb, u.ts, u.ts FROM unnest(%s::uuid[],"
            " %s::uuid[], %s::text[], %s::uuid[], %s::text[], %s::text[], %s::timestamptz[])"
            " AS u(id, account, name, grp, vars, ai, ts)"
        )
        self._supersede = self.sql(
            "UPDATE {runs} r SET status = 'Superseded' FROM unnest(%s::uuid[], %s::int[])"
            " AS u(id, rn) WHERE r.campaign_id = u.id AND r.run_number = u.rn"
        )
        self._insert_runs = self.sql(
            "INSERT INTO {runs} (campaign_id, run_number, customer_group_id, customer_group_name,"
            " segment_count, status, matched, new, orphaned, initiated_by, initiated_from_ip,"
            " job_uid, started_at, completed_at) SELECT u.id, u.rn, u.grp, u.grp_name, u.segs,"
            " 'Processing', u.matched, u.new, u.orphaned, u.initiated_by, u.ip, u.job, u.ts, NULL"
            " FROM unnest(%s::uuid[], %s::int[], %s::uuid[], %s::text[], %s::int[], %s::int[],"
            " %s::int[], %s::int[], %s::text[], %s::text[], %s::uuid[], %s::timestamptz[])"
            " AS u(id, rn, grp, grp_name, segs, matched, new, orphaned, initiated_by, ip, job, ts)"
        )
        self._insert_segments = self.sql(
            "INSERT INTO {run_segments} (campaign_id, run_number, segment_key, segment_values,"
            " customer_count) SELECT u.id, u.rn, u.key, u.vals::jsonb, u.n FROM unnest("
            "%s::uuid[], %s::int[], %s::text[], %s::text[], %s::int[]) AS u(id, rn, key, vals, n)"
        )
        self._start_campaign = self.sql(
            "UPDATE {campaigns} c SET status = 'Processing', current_run_number = u.rn,"
            " customer_group_id = u.grp FROM unnest(%s::uuid[], %s::int[], %s::uuid[])"
            " AS u(id, rn, grp) WHERE c.campaign_id = u.id"
        )
        self._lifecycle = {
            event_type: self.sql(
                "WITH u AS (SELECT * FROM unnest(%s::uuid[], %s::int[], %s::text[],"
                " %s::timestamptz[]) AS u(id, rn, status, ts)), r AS (UPDATE {runs} r SET"
                f" status = {status}, completed_at = {completed_at} FROM u"
                " WHERE r.campaign_id = u.id AND r.run_number = u.rn)"
                f" UPDATE {{campaigns}} c SET status = {status} FROM u WHERE c.campaign_id = u.id"
            )
            for event_type, (status, completed_at) in _STATUS_TO_COMPLETED_AT.items()
        }
        self._touch = self.sql(
            "UPDATE {campaigns} c SET updated_at = GREATEST(c.updated_at, u.ts), message_counts ="
            " (SELECT jsonb_build_object("
            "'Ready for review', count(*) FILTER (WHERE m.status = 'Ready for review'),"
            " 'Approved', count(*) FILTER (WHERE m.status = 'Approved'),"
            " 'Rejected', count(*) FILTER (WHERE m.status = 'Rejected'),"
            " 'Published', count(*) FILTER (WHERE m.status = 'Published'))"
            " FROM {messages} m WHERE m.campaign_id = c.campaign_id"
            " AND m.run_number = c.current_run_number AND m.archive_reason IS NULL)"
            " FROM unnest(%s::uuid[], %s::timestamptz[]) AS u(id, ts) WHERE c.campaign_id = u.id"
        )
        self.handlers.update(
            {
                "CampaignCreated": self.on_created,
                "RunStarted": self.on_run_started,
                **{name: self.on_lifecycle for name in _STATUS_TO_COMPLETED_AT},
            }
        )
        self.add_message_handlers()

    def on_created(self, cur: Cursor[Any], events: list[Event]) -> None:
        cur.execute(
            self._create,
            (
                [e.campaign_id for e in events],
                [e.data["account_id"] for e in events],
                [e.data["name"] for e in events],
                [e.data["customer_group_id"] for e in events],
                [_json(e.data["segment_variables"]) for e in events],
                [_json(e.data["ai_config"]) for e in events],
                [e.timestamp for e in events],
            ),
        )

    def on_run_started(self, cur: Cursor[Any], events: list[Event]) -> None:
        for chunk in distinct_chunks(events, campaign_key):
            self._start_runs(cur, chunk)

    def _start_runs(self, cur: Cursor[Any], events: list[Event]) -> None:
        superseding = [e for e in events if e.data["previous_run_number"] is not None]
        if superseding:
            cur.execute(
                self._supersede,
                (
                    [e.campaign_id for e in superseding],
                    [e.data["previous_run_number"] for e in superseding],
                ),
            )
        data = [e.data for e in events]
        ids = [e.campaign_id for e in events]
        cur.execute(
            self._insert_runs,
            (
                ids,
                [d["run_number"] for d in data],
                [d["customer_group_id"] for d in data],
                [d["customer_group_name"] for d in data],
                [len(d["segments"]) for d in data],
                [len(d["matched"]) for d in data],
                [len(d["new"]) for d in data],
                [len(d["orphaned"]) for d in data],
                [d["initiated_by"] for d in data],
                [d["ip"] for d in data],
                [d["job_uid"] for d in data],
                [e.timestamp for e in events],
            ),
        )
        segments = [(e, s) for e in events for s in e.data["segments"]]
        if segments:
            cur.execute(
                self._insert_segments,
                (
                    [e.campaign_id for e, _ in segments],
                    [e.data["run_number"] for e, _ in segments],
                    [s["key"] for _, s in segments],
                    [_json(s["values"]) for _, s in segments],
                    [s["customer_count"] for _, s in segments],
                ),
            )
        cur.execute(
            self._start_campaign,
            (ids, [d["run_number"] for d in data], [d["customer_group_id"] for d in data]),
        )

    def on_lifecycle(self, cur: Cursor[Any], events: list[Event]) -> None:
        statement = self._lifecycle[events[0].type]
        for chunk in distinct_chunks(events, campaign_key):
            cur.execute(
                statement,
                (
                    [e.campaign_id for e in chunk],
                    [e.data["run_number"] for e in chunk],
                    [e.data.get("campaign_status") for e in chunk],
                    [e.timestamp for e in chunk],
                ),
            )

    def after_batch(self, cur: Cursor[Any], events: Sequence[Event]) -> None:
        latest: dict[Any, Any] = {}
        for e in events:
            latest[e.campaign_id] = max(e.timestamp, latest.get(e.campaign_id, e.timestamp))
        cur.execute(self._touch, (list(latest), list(latest.values())))
