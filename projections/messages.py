"""Message handlers of the ``campaign_runs`` projector (statuses mirror the domain's).

Generated -> Ready for review/Pending/Generated; copied or approved -> Approved x3;
rejected -> Rejected/Rejected/Reviewed; edited -> Ready for review/Pending/Reviewed;
regeneration requested -> Ready for review/Pending/Generated; published ->
Published/Approved/Published. After a review-side change the campaign and its run become
``Ready to publish`` when no active current-run message awaits approval (a message being
regenerated is Ready for review, so it awaits approval too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import Cursor

from projections.events import Group
from projections.folding import FOLDED, Fold
from projections.projector import Handler, Projector, whole

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


# A window's message events folded per row (``projections.folding``): the run-level
# archives reach the rows the window does not touch, the patches change the rows that
# existed, the rows that did not are inserted, and the campaigns whose status follows
# their messages at the window's end are derived.
_ARCHIVE_FOLDED = (
    "archive_reason = CASE WHEN NOT p.a_archived THEN m.archive_reason"
    " WHEN m.archive_reason IS NULL THEN p.a_reason WHEN p.a_orphaned THEN 'orphaned'"
    " ELSE m.archive_reason END, archived_at = COALESCE(m.archived_at, p.a_ts)"
)
# One statement per run archived (rare); ``<> ALL`` of a bound array is a hash lookup.
_FOLDED_RUN_ARCHIVE = (
    "UPDATE {messages} m SET archive_reason = CASE WHEN m.archive_reason IS NULL"
    " THEN %(reason)s WHEN %(orphaned)s THEN 'orphaned' ELSE m.archive_reason END,"
    " archived_at = COALESCE(m.archived_at, %(archived_at)s)"
    " WHERE m.campaign_id = %(cid)s AND m.run_number = %(run)s"
    " AND m.segment_key <> ALL(%(touched)s::text[])"
)
_FOLDED_PATCHES = (
    "UPDATE {messages} m SET content = COALESCE(p.p_content, m.content),"
    " origin = CASE WHEN p.p_regenerated THEN 'generated' ELSE m.origin END,"
    " copied_from_message_id ="
    " CASE WHEN p.p_regenerated THEN NULL ELSE m.copied_from_message_id END,"
    " status = COALESCE(p.p_status, m.status),"
    " review_status = COALESCE(p.p_review, m.review_status),"
    " approval_stage = COALESCE(p.p_stage, m.approval_stage),"
    f" published_at = COALESCE(p.p_published_at, m.published_at), {_ARCHIVE_FOLDED}"
    " FROM {patches} p WHERE p.w = %(w)s AND p.upd"
    " AND m.campaign_id = p.cid AND m.run_number = p.run AND m.segment_key = p.key"
)
_FOLDED_INSERTS = (
    "INSERT INTO {messages} (campaign_id, run_number, segment_key, message_id, segment,"
    " customer_count, content, origin, copied_from_message_id, status, review_status,"
    " approval_stage, archive_reason, archived_at, created_at, published_at)"
    " SELECT p.cid, p.run, p.key, p.i_mid, s.segment_values, s.customer_count, p.i_content,"
    " p.i_origin, p.i_source, p.i_status, p.i_review, p.i_stage, p.i_reason,"
    " p.i_archived_at, p.i_created_at, p.i_published_at FROM {patches} p"
    " LEFT JOIN {run_segments} s"
    " ON s.campaign_id = p.cid AND s.run_number = p.run AND s.segment_key = p.key"
    " WHERE p.w = %(w)s AND p.ins AND (p.must OR NOT EXISTS (SELECT 1 FROM {messages} m"
    " WHERE m.campaign_id = p.cid AND m.run_number = p.run AND m.segment_key = p.key))"
)
_FOLDED_DERIVE = _DERIVE.replace(
    "c.campaign_id IN (SELECT e.cid FROM {events} AS e)", "c.campaign_id = ANY(%(derive)s)"
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
        self._folded = {
            name: self.sql(template)
            for name, template in (
                ("run_archive", _FOLDED_RUN_ARCHIVE),
                ("updates", _FOLDED_PATCHES),
                ("inserts", _FOLDED_INSERTS),
                ("derive", _FOLDED_DERIVE),
            )
        }

    def apply(self, cur: Cursor[Any], groups: Sequence[Group], fold: Fold | None = None) -> None:
        if fold is None:
            super().apply(cur, groups)
            return
        # The other events first, in order: none of their statements reads message rows
        # (a message's insert reads its run's segments, which its run's start wrote).
        for group in groups:
            handler = self.handlers.get(group.type)
            if handler is not None and group.type not in FOLDED:
                handler(cur, group)
        window, params = whole(groups), fold.params()
        for run_archive in fold.run_archives:
            self._folded["run_archive"].run(cur, window, run_archive.params())
        for name, wanted in (
            ("updates", fold.updates),
            ("inserts", fold.inserts),
            ("derive", bool(fold.derive)),
        ):
            if wanted:
                self._folded[name].run(cur, window, params)
        self.after_batch(cur, window)
