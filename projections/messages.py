"""Message handlers of the ``campaign_runs`` projector (a mixin; statuses per the domain).

Generated -> Ready for review/Pending/Generated; copied or approved -> Approved x3;
rejected -> Rejected/Rejected/Reviewed; edited -> Ready for review/Pending/Reviewed;
regeneration requested -> Ready for review/Pending/Generated; published ->
Published/Approved/Published. After a review-side change the campaign and its run become
``Ready to publish`` when no active current-run message awaits approval.
"""

from __future__ import annotations

from collections.abc import Hashable
from itertools import groupby
from typing import Any

from psycopg import Cursor, sql

from projections.events import Event
from projections.projector import Projector, distinct_chunks, message_key

_INSERT = (
    "INSERT INTO {{messages}} (campaign_id, run_number, segment_key, message_id, segment,"
    " customer_count, content, origin, copied_from_message_id, status, review_status,"
    " approval_stage, archive_reason, archived_at, created_at, published_at)"
    " SELECT u.id, u.rn, u.key, u.mid, s.segment_values, s.customer_count, u.content,"
    " {origin}, u.source, {statuses}, NULL, NULL, u.ts, NULL FROM unnest(%s::uuid[], %s::int[],"
    " %s::text[], %s::uuid[], %s::text[], %s::uuid[], %s::timestamptz[])"
    " AS u(id, rn, key, mid, content, source, ts) LEFT JOIN {{run_segments}} s"
    " ON s.campaign_id = u.id AND s.run_number = u.rn AND s.segment_key = u.key"
)
_UPDATE = (
    "UPDATE {{messages}} m SET {assignments} FROM unnest(%s::uuid[], %s::int[], %s::text[],"
    " %s::text[], %s::timestamptz[]) AS u(id, rn, key, arg, ts)"
    " WHERE m.campaign_id = u.id AND m.run_number = u.rn AND m.segment_key = u.key"
)
# (assignments, the event field passed as u.arg, whether the campaign status is derived)
_UPDATES: dict[str, tuple[str, str | None, bool]] = {
    "MessageReviewed": (
        "status = CASE WHEN u.arg = 'approve' THEN 'Approved' ELSE 'Rejected' END,"
        " review_status = CASE WHEN u.arg = 'approve' THEN 'Approved' ELSE 'Rejected' END,"
        " approval_stage = CASE WHEN u.arg = 'approve' THEN 'Approved' ELSE 'Reviewed' END",
        "decision",
        True,
    ),
    "MessageEdited": (
        "content = u.arg, status = 'Ready for review', review_status = 'Pending',"
        " approval_stage = 'Reviewed'",
        "content",
        True,
    ),
    "MessageRegenerationRequested": (
        "status = 'Ready for review', review_status = 'Pending', approval_stage = 'Generated'",
        None,
        True,
    ),
    "MessagePublished": (
        "status = 'Published', review_status = 'Approved', approval_stage = 'Published',"
        " published_at = u.ts",
        None,
        False,
    ),
}
# superseded never overrides a reason; orphaned refines superseded; archived_at is the first.
_ARCHIVE_SET = (
    "archive_reason = CASE WHEN m.archive_reason IS NULL OR u.reason = 'orphaned'"
    " THEN u.reason ELSE m.archive_reason END, archived_at = COALESCE(m.archived_at, u.ts)"
)


class MessageHandlers(Projector):
    def add_message_handlers(self) -> None:
        self._copied = self.sql(
            _INSERT.format(origin="'copied'", statuses="'Approved', 'Approved', 'Approved'")
        )
        self._generated = self.sql(
            _INSERT.format(
                origin="'generated'", statuses="'Ready for review', 'Pending', 'Generated'"
            )
            + " ON CONFLICT (campaign_id, run_number, segment_key) DO UPDATE SET"
            " content = EXCLUDED.content, origin = 'generated', copied_from_message_id = NULL,"
            " status = 'Ready for review', review_status = 'Pending', approval_stage = 'Generated'"
        )
        self._updates = {
            name: self.sql(_UPDATE.format(assignments=assignments))
            for name, (assignments, _, _) in _UPDATES.items()
        }
        self._archive_one = self.sql(
            f"UPDATE {{messages}} m SET {_ARCHIVE_SET} FROM unnest(%s::uuid[], %s::int[],"
            " %s::text[], %s::text[], %s::timestamptz[]) AS u(id, rn, key, reason, ts)"
            " WHERE m.campaign_id = u.id AND m.run_number = u.rn AND m.segment_key = u.key"
        )
        self._archive_run = self.sql(
            f"UPDATE {{messages}} m SET {_ARCHIVE_SET} FROM unnest(%s::uuid[], %s::int[],"
            " %s::text[], %s::timestamptz[]) AS u(id, rn, reason, ts)"
            " WHERE m.campaign_id = u.id AND m.run_number = u.rn"
        )
        self._derive = self.sql(
            "WITH d AS (UPDATE {campaigns} c SET status = CASE WHEN EXISTS (SELECT 1 FROM"
            " {messages} m WHERE m.campaign_id = c.campaign_id"
            " AND m.run_number = c.current_run_number AND m.archive_reason IS NULL"
            " AND m.status NOT IN ('Approved', 'Published')) THEN 'Ready for review'"
            " ELSE 'Ready to publish' END WHERE c.campaign_id = ANY(%s::uuid[])"
            " AND c.status NOT IN ('Processing', 'Failed')"
            " RETURNING c.campaign_id, c.current_run_number, c.status)"
            " UPDATE {runs} r SET status = d.status FROM d"
            " WHERE r.campaign_id = d.campaign_id AND r.run_number = d.current_run_number"
        )
        self.handlers.update(
            {
                "SegmentMatched": self.on_copied,
                "MessageGenerated": self.on_generated,
                "MessageArchived": self.on_archived,
                **{name: self.on_message_update for name in _UPDATES},
            }
        )

    def _insert(self, cur: Cursor[Any], statement: sql.Composed, events: list[Event]) -> None:
        for chunk in distinct_chunks(events, message_key):
            cur.execute(
                statement,
                (
                    [e.campaign_id for e in chunk],
                    [e.data["run_number"] for e in chunk],
                    [e.data["segment_key"] for e in chunk],
                    [e.data["message_id"] for e in chunk],
                    [e.data["content"] for e in chunk],
                    [e.data.get("copied_from_message_id") for e in chunk],
                    [e.timestamp for e in chunk],
                ),
            )

    def on_copied(self, cur: Cursor[Any], events: list[Event]) -> None:
        self._insert(cur, self._copied, events)

    def on_generated(self, cur: Cursor[Any], events: list[Event]) -> None:
        # A regeneration (the message exists) is only ever recorded outside processing.
        self._insert(cur, self._generated, events)
        self._derive_status(cur, events)

    def on_message_update(self, cur: Cursor[Any], events: list[Event]) -> None:
        _, field, derives = _UPDATES[events[0].type]
        statement = self._updates[events[0].type]
        for chunk in distinct_chunks(events, message_key):
            cur.execute(
                statement,
                (
                    [e.campaign_id for e in chunk],
                    [e.data["run_number"] for e in chunk],
                    [e.data["segment_key"] for e in chunk],
                    [e.data[field] if field else None for e in chunk],
                    [e.timestamp for e in chunk],
                ),
            )
        if derives:
            self._derive_status(cur, events)

    def on_archived(self, cur: Cursor[Any], events: list[Event]) -> None:
        def whole_run(e: Event) -> bool:
            return e.data["segment_key"] is None

        for is_run, same_form in groupby(events, key=whole_run):
            key = self._run_key if is_run else message_key
            for chunk in distinct_chunks(same_form, key):
                ids = [e.campaign_id for e in chunk]
                runs = [e.data["run_number"] for e in chunk]
                reasons = [e.data["reason"] for e in chunk]
                stamps = [e.timestamp for e in chunk]
                if is_run:
                    cur.execute(self._archive_run, (ids, runs, reasons, stamps))
                else:
                    keys = [e.data["segment_key"] for e in chunk]
                    cur.execute(self._archive_one, (ids, runs, keys, reasons, stamps))

    @staticmethod
    def _run_key(event: Event) -> Hashable:
        return (event.campaign_id, event.data["run_number"])

    def _derive_status(self, cur: Cursor[Any], events: list[Event]) -> None:
        cur.execute(self._derive, (list({e.campaign_id: None for e in events}),))
