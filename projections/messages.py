"""Message handlers of the ``campaign_runs`` projector (statuses mirror the domain's).

Generated -> Ready for review/Pending/Generated; copied or approved -> Approved x3;
rejected -> Rejected/Rejected/Reviewed; edited -> Ready for review/Pending/Reviewed;
regeneration requested -> Ready for review/Pending/Generated; published ->
Published/Approved/Published. After a review-side change the campaign and its run become
``Ready to publish`` when no active current-run message awaits approval (a message being
regenerated is Ready for review, so it awaits approval too).
"""

from __future__ import annotations

from projections.projector import Handler, Projector

# One event per message: the group's last (its state replaces the previous one).
_PER_MESSAGE = (
    "(SELECT DISTINCT ON (e.cid, {{run}}, {{key}}) e.cid, {{run}} AS rn, {{key}} AS key,"
    " {columns}, {{ts}} AS ts FROM {{events}} AS e {where}"
    " ORDER BY e.cid, {{run}}, {{key}}, e.id {order}) AS u"
)
_MATCHES = "m.campaign_id = u.cid AND m.run_number = u.rn AND m.segment_key = u.key"


def _insert(origin: str, statuses: str) -> str:
    rows = _PER_MESSAGE.format(
        columns="{message_id} AS mid, {content} AS content, {source} AS source",
        where="",
        order="DESC",
    )
    return (
        "INSERT INTO {messages} (campaign_id, run_number, segment_key, message_id, segment,"
        " customer_count, content, origin, copied_from_message_id, status, review_status,"
        " approval_stage, archive_reason, archived_at, created_at, published_at)"
        " SELECT u.cid, u.rn, u.key, u.mid, s.segment_values, s.customer_count, u.content,"
        f" '{origin}', u.source, {statuses}, NULL, NULL, u.ts, NULL FROM {rows}"
        " LEFT JOIN {run_segments} s"
        " ON s.campaign_id = u.cid AND s.run_number = u.rn AND s.segment_key = u.key"
    )


def _update(assignments: str, argument: str = "NULL") -> str:
    rows = _PER_MESSAGE.format(columns=f"{argument} AS arg", where="", order="DESC")
    return f"UPDATE {{messages}} m SET {assignments} FROM {rows} WHERE {_MATCHES}"


_APPROVED = "u.arg = 'approve'"
_UPDATES = {
    "MessageReviewed": _update(
        f"status = CASE WHEN {_APPROVED} THEN 'Approved' ELSE 'Rejected' END,"
        f" review_status = CASE WHEN {_APPROVED} THEN 'Approved' ELSE 'Rejected' END,"
        f" approval_stage = CASE WHEN {_APPROVED} THEN 'Approved' ELSE 'Reviewed' END",
        "{decision}",
    ),
    "MessageEdited": _update(
        "content = u.arg, status = 'Ready for review', review_status = 'Pending',"
        " approval_stage = 'Reviewed'",
        "{content}",
    ),
    "MessageRegenerationRequested": _update(
        "status = 'Ready for review', review_status = 'Pending', approval_stage = 'Generated'"
    ),
    "MessagePublished": _update(
        "status = 'Published', review_status = 'Approved', approval_stage = 'Published',"
        " published_at = u.ts"
    ),
}
_DERIVES = {"MessageGenerated", "MessageReviewed", "MessageEdited", "MessageRegenerationRequested"}

# Superseded never overrides a reason; orphaned refines superseded; archived_at is the
# first archive's. A run-level archive (segment_key null) precedes its run's orphans.
_ARCHIVE_SET = (
    "archive_reason = CASE WHEN m.archive_reason IS NULL OR u.reason = 'orphaned'"
    " THEN u.reason ELSE m.archive_reason END, archived_at = COALESCE(m.archived_at, u.ts)"
)
_ARCHIVE_RUN = (
    f"UPDATE {{messages}} m SET {_ARCHIVE_SET} FROM (SELECT DISTINCT ON (e.cid, {{run}})"
    " e.cid, {run} AS rn, {reason} AS reason, {ts} AS ts FROM {events} AS e"
    " WHERE {key} IS NULL ORDER BY e.cid, {run}, e.id) AS u"
    " WHERE m.campaign_id = u.cid AND m.run_number = u.rn"
)
_ARCHIVE_ONE = (
    f"UPDATE {{messages}} m SET {_ARCHIVE_SET} FROM "
    + _PER_MESSAGE.format(columns="{reason} AS reason", where="WHERE {key} IS NOT NULL", order="")
    + f" WHERE {_MATCHES}"
)
_DERIVE = (
    "WITH d AS (UPDATE {campaigns} c SET status = CASE WHEN EXISTS (SELECT 1 FROM"
    " {messages} m WHERE m.campaign_id = c.campaign_id"
    " AND m.run_number = c.current_run_number AND m.archive_reason IS NULL"
    " AND m.status NOT IN ('Approved', 'Published')) THEN 'Ready for review'"
    " ELSE 'Ready to publish' END WHERE c.campaign_id IN (SELECT e.cid FROM {events} AS e)"
    " AND c.status NOT IN ('Processing', 'Failed')"
    " RETURNING c.campaign_id, c.current_run_number, c.status)"
    " UPDATE {runs} r SET status = d.status FROM d"
    " WHERE r.campaign_id = d.campaign_id AND r.run_number = d.current_run_number"
)


class MessageHandlers(Projector):
    def add_message_handlers(self) -> None:
        templates: dict[str, list[str]] = {
            "SegmentMatched": [_insert("copied", "'Approved', 'Approved', 'Approved'")],
            # Outside processing a generated message is a regeneration of an existing one.
            "MessageGenerated": [
                _insert("generated", "'Ready for review', 'Pending', 'Generated'")
                + " ON CONFLICT (campaign_id, run_number, segment_key) DO UPDATE SET"
                " content = EXCLUDED.content, origin = 'generated',"
                " copied_from_message_id = NULL, status = 'Ready for review',"
                " review_status = 'Pending', approval_stage = 'Generated'"
            ],
            "MessageArchived": [_ARCHIVE_RUN, _ARCHIVE_ONE],
            **{name: [template] for name, template in _UPDATES.items()},
        }
        handlers: dict[str, Handler] = {
            name: self.statements(*steps, *([_DERIVE] if name in _DERIVES else []))
            for name, steps in templates.items()
        }
        self.handlers.update(handlers)
