"""The ``campaign_runs`` projector: campaigns, run history, run segments and messages.

One projector owns the four tables because they derive from each other inside a batch:
a message takes its segment values from its run's segments, and a campaign's status and
message counts follow its current run's messages.
"""

from __future__ import annotations

from typing import Any, ClassVar

from psycopg import Cursor

from projections.decoding import count, text, uuid_hex
from projections.events import Group
from projections.messages import MessageHandlers
from projections.projector import LAST_PER_CAMPAIGN
from projections.schema import CAMPAIGNS, MESSAGES, RUNS, SEGMENTS

ZERO_COUNTS = '{{"Ready for review": 0, "Approved": 0, "Rejected": 0, "Published": 0}}'
_LIFECYCLE = {  # event type -> (run and campaign status, the run's completed_at)
    "RunFinalised": (text("campaign_status"), "u.ts"),
    "RunFailed": ("'Failed'", "r.completed_at"),
    "RunRetried": ("'Processing'", "NULL"),
    "CampaignPublished": ("'Published'", "r.completed_at"),
}
_CREATE = (
    "INSERT INTO {campaigns} (campaign_id, account_id, name, status, current_run_number,"
    " customer_group_id, segment_variables, ai_config, message_counts, created_at, updated_at)"
    f" SELECT e.cid, {uuid_hex('account_id')}, {text('name')}, 'Processing', 0,"
    f" {uuid_hex('customer_group_id')}, e.j -> 'segment_variables', e.j -> 'ai_config',"
    f" '{ZERO_COUNTS}'::jsonb, {{ts}}, {{ts}} FROM {{events}} AS e"
)
_SUPERSEDE = (
    "UPDATE {runs} r SET status = 'Superseded' FROM {events} AS e"
    " WHERE r.campaign_id = e.cid AND r.run_number = (e.j ->> 'previous_run_number')::int"
)
_INSERT_RUNS = (
    "INSERT INTO {runs} (campaign_id, run_number, customer_group_id, customer_group_name,"
    " segment_count, status, matched, new, orphaned, initiated_by, initiated_from_ip, job_uid,"
    f" started_at, completed_at) SELECT e.cid, {{run}}, {uuid_hex('customer_group_id')},"
    f" {text('customer_group_name')}, {count('segments')}, 'Processing', {count('matched')},"
    f" {count('new')}, {count('orphaned')}, {text('initiated_by')}, {text('ip')},"
    f" {uuid_hex('job_uid')}, {{ts}}, NULL FROM {{events}} AS e"
)
_INSERT_SEGMENTS = (
    "INSERT INTO {run_segments} (campaign_id, run_number, segment_key, segment_values,"
    " customer_count) SELECT e.cid, {run}, s ->> 'key', s -> 'values',"
    " (s ->> 'customer_count')::int FROM {events} AS e"
    " CROSS JOIN LATERAL jsonb_array_elements(e.segments) AS s"
)
_START_CAMPAIGN = (
    "UPDATE {campaigns} c SET status = 'Processing', current_run_number = {run},"
    f" customer_group_id = {uuid_hex('customer_group_id')} FROM {LAST_PER_CAMPAIGN}"
    " WHERE c.campaign_id = e.cid"
)
_TOUCH = (
    "UPDATE {campaigns} c SET updated_at = GREATEST(c.updated_at, u.ts), message_counts ="
    " (SELECT jsonb_build_object("
    "'Ready for review', count(*) FILTER (WHERE m.status = 'Ready for review'),"
    " 'Approved', count(*) FILTER (WHERE m.status = 'Approved'),"
    " 'Rejected', count(*) FILTER (WHERE m.status = 'Rejected'),"
    " 'Published', count(*) FILTER (WHERE m.status = 'Published'))"
    " FROM {messages} m WHERE m.campaign_id = c.campaign_id"
    " AND m.run_number = c.current_run_number AND m.archive_reason IS NULL)"
    " FROM (SELECT e.cid, max(e.ts) AS ts FROM {events} AS e GROUP BY e.cid) AS u"
    " WHERE c.campaign_id = u.cid"
)


def _lifecycle(status: str, completed_at: str) -> str:
    return (
        f"WITH u AS (SELECT e.cid, {{run}} AS rn, {status} AS status, {{ts}} AS ts"
        f" FROM {LAST_PER_CAMPAIGN}), r AS (UPDATE {{runs}} r SET status = u.status,"
        f" completed_at = {completed_at} FROM u"
        " WHERE r.campaign_id = u.cid AND r.run_number = u.rn)"
        " UPDATE {campaigns} c SET status = u.status FROM u WHERE c.campaign_id = u.cid"
    )


class CampaignRunsProjector(MessageHandlers):
    name = "campaign_runs"
    tables: ClassVar[tuple[str, ...]] = (CAMPAIGNS, RUNS, SEGMENTS, MESSAGES)

    def __init__(self, schema: str | None = None) -> None:
        super().__init__(schema)
        self._touch = self.sql(_TOUCH)
        self.handlers.update(
            {
                "CampaignCreated": self.statements(_CREATE),
                "RunStarted": self.statements(
                    _SUPERSEDE, _INSERT_RUNS, _INSERT_SEGMENTS, _START_CAMPAIGN
                ),
                **{
                    name: self.statements(_lifecycle(status, completed_at))
                    for name, (status, completed_at) in _LIFECYCLE.items()
                },
            }
        )
        self.add_message_handlers()

    def after_batch(self, cur: Cursor[Any], batch: Group) -> None:
        self._touch.run(cur, batch)
