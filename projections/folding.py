"""Folding a window's message events into one write per message row.

Most of a catch-up's work was writing message rows, and a window often holds several
events of one message (generated, then reviewed, then published; a superseded run's
orphans archived twice). Written one statement per run of events, each event cost a row
version, and versions written in one transaction cannot be pruned, so pages filled and
updates left them. Here the client, which parses the message events anyway
(``projections.staging``), folds each message's events in log order into the one write
that leaves the row as applying them one by one would:

* whether the row existed before the window is not known to the client, so it folds
  both cases: the row as the window would insert it (``insert``) and the change to a
  row that existed (``patch``). The database applies the patch where the row exists and
  inserts the row where it does not.
* a run-level archive (no segment key) reaches every row of its run that exists at that
  point: the rows the window also touches fold it in order; the others get it in one
  statement (``RunArchive``).

The campaign's status follows its messages only after a review-side event ("derive",
see ``projections.messages``). Only the last derive of a campaign in the window can
survive to its end, and only when no lifecycle event (which sets the status itself)
follows it: the fold lists those campaigns, derived once the rows are written. That
equals deriving right after their last derive-type event because the events the domain
writes after it, within one campaign, never change whether a current-run message awaits
approval (it publishes approved messages only, archives orphans of the previous run
only, and copies messages approved), which the batch-equality property test holds.

Anything else (an event the client could not parse, a copy onto a row that exists, a
field the row needs missing) makes the window unfoldable: it is applied event group by
event group, as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from uuid import UUID

from projections import staging
from projections.staging import Message

# Event type -> (status, review_status, approval_stage) it sets (reviews: by decision).
_STATUSES = {
    "SegmentMatched": ("Approved", "Approved", "Approved"),
    "MessageGenerated": ("Ready for review", "Pending", "Generated"),
    "MessageEdited": ("Ready for review", "Pending", "Reviewed"),
    "MessageRegenerationRequested": ("Ready for review", "Pending", "Generated"),
    "MessagePublished": ("Published", "Approved", "Published"),
}
_APPROVED = ("Approved", "Approved", "Approved")
_REJECTED = ("Rejected", "Rejected", "Reviewed")
# After these a campaign's status follows its messages (see ``projections.messages``).
DERIVES = frozenset(
    {"MessageGenerated", "MessageReviewed", "MessageEdited", "MessageRegenerationRequested"}
)
FOLDED = frozenset(staging.MESSAGE_EVENTS)  # the events folded: every message event
# These set a campaign's status themselves (``projections.campaign_runs``).
SETS_STATUS = frozenset(
    {"CampaignCreated", "RunStarted", "RunFinalised", "RunFailed", "RunRetried",
     "CampaignPublished"}
)  # fmt: skip
ORPHANED = "orphaned"


class NotFoldable(Exception):
    """The window is applied event group by event group instead."""


@dataclass(slots=True)
class Archive:
    """Archive events folded: the reason rule of ``projections.messages`` (a reason is
    set on a row without one; orphaned refines any other) and the first archive's time."""

    archived: bool = False
    orphaned: bool = False  # an orphaned archive: the reason ends orphaned, whatever it was
    reason_if_none: str | None = None  # the reason it ends with if the row had none
    first_ts: int | None = None

    def add(self, reason: str | None, ts: int) -> None:
        if not self.archived:
            self.archived, self.first_ts = True, ts
        if reason == ORPHANED:
            self.orphaned = True
            self.reason_if_none = ORPHANED
        elif self.reason_if_none is None:
            self.reason_if_none = reason

    def copy(self) -> Archive:
        return Archive(self.archived, self.orphaned, self.reason_if_none, self.first_ts)


@dataclass(slots=True)
class Row:
    """A message row the window inserts, as the window leaves it (segment values and
    customer count come from the run's segments when it is written)."""

    mid: bytes
    content: str
    origin: str
    source: bytes | None
    statuses: tuple[str, str, str]
    created_at: int
    reason: str | None = None
    archived_at: int | None = None
    published_at: int | None = None

    def archive(self, reason: str | None, ts: int) -> None:
        if self.reason is None or reason == ORPHANED:
            self.reason = reason
        if self.archived_at is None:
            self.archived_at = ts


@dataclass(slots=True)
class Patch:
    """The change the window makes to a row that existed before it (a field None: kept).
    Made at a row's first event: every event but a copy changes it."""

    content: str | None = None
    regenerated: bool = False  # origin becomes generated, the copy source is cleared
    statuses: tuple[str, str, str] | None = None
    published_at: int | None = None
    archive: Archive | None = None

    def add_archive(self, reason: str | None, ts: int) -> None:
        if self.archive is None:
            self.archive = Archive()
        self.archive.add(reason, ts)


@dataclass(slots=True)
class MessageFold:
    """One message row's events in the window, folded both ways."""

    patch: Patch | None  # None: the row cannot have existed (its first event copies it)
    row: Row | None = None  # the row the window inserts where it did not exist
    must_insert: bool = False  # the insert must not meet an existing row (a copy)


@dataclass(frozen=True)
class Fold:
    """A window's message events folded: rows for the patch table (``copy_rows``) and the
    campaigns to derive once they are written."""

    window: int  # the window's first position - 1: its patch rows' ``w``
    copy_rows: list[bytes]
    derive: list[UUID]
    inserts: bool  # some row may be inserted
    updates: bool  # some existing row may change
    run_archives: list[RunArchive]  # for the rows of their runs the window does not touch

    def params(self) -> dict[str, object]:
        return {"w": self.window, "derive": self.derive}


@dataclass(frozen=True)
class RunArchive:
    """A run's run-level archives in the window, folded, for the rows it does not touch
    (the others fold them in order); statement parameters."""

    campaign_id: UUID
    run_number: int
    orphaned: bool
    reason_if_none: str | None
    archived_at: datetime
    touched: list[str]  # the segment keys of the run's rows the window touches

    def params(self) -> dict[str, object]:
        return {
            "cid": self.campaign_id,
            "run": self.run_number,
            "orphaned": self.orphaned,
            "reason": self.reason_if_none,
            "archived_at": self.archived_at,
            "touched": self.touched,
        }


def _statuses(event: Message) -> tuple[str, str, str]:
    if event.type == "MessageReviewed":
        return _APPROVED if event.decision == "approve" else _REJECTED
    return _STATUSES[event.type]


def _required(value: str | bytes | int | None) -> str | bytes | int:
    if value is None:  # the row's column is NOT NULL: the statement would fail
        raise NotFoldable
    return value


def _apply(fold: MessageFold, event: Message) -> None:
    """Apply one keyed message event to both cases of its row, as the handlers would."""
    kind = event.type
    if kind == "SegmentMatched":
        # A copy onto a row that exists fails: where the window may already have made or
        # changed the row, let the group path fail.
        if fold.row is not None or (fold.patch is not None and fold.patch != Patch()):
            raise NotFoldable
        fold.patch, fold.must_insert = None, True
        fold.row = Row(
            _required(event.mid),  # type: ignore[arg-type]
            _required(event.content),  # type: ignore[arg-type]
            "copied",
            event.source,
            _STATUSES[kind],
            event.ts,
        )
        return
    patch, row = fold.patch, fold.row
    if kind == "MessageArchived":
        if row is not None:
            row.archive(event.reason, event.ts)
        if patch is not None:
            patch.add_archive(event.reason, event.ts)
        return
    statuses = _statuses(event)
    if kind == "MessageGenerated":
        content: str = _required(event.content)  # type: ignore[assignment]
        if row is None:  # inserted where absent
            fold.row = Row(_required(event.mid), content, "generated", None, statuses, event.ts)  # type: ignore[arg-type]
        else:  # the insert meets the row the window inserted: updated
            row.content, row.origin, row.source, row.statuses = content, "generated", None, statuses
        if patch is not None:  # the insert meets a row that existed: updated
            patch.content, patch.regenerated, patch.statuses = content, True, statuses
        return
    # Reviewed, edited, regeneration requested, published: updates (of nothing if absent).
    if kind == "MessageEdited":
        content = _required(event.content)  # type: ignore[assignment]
        if row is not None:
            row.content = content
        if patch is not None:
            patch.content = content
    if row is not None:
        row.statuses = statuses
        if kind == "MessagePublished":
            row.published_at = event.ts
    if patch is not None:
        patch.statuses = statuses
        if kind == "MessagePublished":
            patch.published_at = event.ts


@dataclass
class Folded:
    """A window's message events folded, before encoding."""

    rows: dict[tuple[bytes, int, str], MessageFold]  # (campaign, run, segment key) ->
    run_archives: dict[tuple[bytes, int], Archive]  # (campaign, run) -> its run archives
    derive: list[bytes]  # the campaigns to derive at the window's end


def fold_events(events: Iterable[tuple[bytes, str, Message | None]]) -> Folded:
    """Fold a window's events, in log order: (campaign id bytes, type, the parsed message
    event, or None for other events and for message events the client did not parse; a
    RunStarted as its run number only, see ``staging.started_run``)."""
    rows: dict[tuple[bytes, int, str], MessageFold] = {}
    run_archives: dict[tuple[bytes, int], Archive] = {}  # run-level archives so far
    derive: dict[bytes, bool] = {}  # campaign -> its last status change is a derive
    started: set[tuple[bytes, int]] = set()  # runs started in the window: no rows before
    for campaign_id, kind, event in events:
        if kind in SETS_STATUS:
            derive[campaign_id] = False
            if kind == "RunStarted" and event is not None and event.run is not None:
                started.add((campaign_id, event.run))
            continue
        if kind not in FOLDED:
            continue
        if event is None or event.run is None:
            raise NotFoldable  # parsed by the server, or not a message's event
        if kind in DERIVES:
            derive[campaign_id] = True
        run = (campaign_id, event.run)
        if event.key is None:
            if kind != "MessageArchived":
                raise NotFoldable
            run_archive = run_archives.get(run)
            if run_archive is None:
                run_archive = run_archives[run] = Archive()
            run_archive.add(event.reason, event.ts)
            for (cid, number, _), seen in rows.items():  # rows of the run seen so far
                if (cid, number) == run:
                    _apply(seen, event)
            continue
        key = (campaign_id, event.run, event.key)
        touched = rows.get(key)
        if touched is None:
            if run in started:  # a row of a run started in the window cannot exist yet
                touched = rows[key] = MessageFold(None, must_insert=True)
            else:  # a row that existed has had the run's earlier archives (an absent one not)
                earlier = run_archives.get(run)
                patch = Patch(archive=earlier.copy()) if earlier else Patch()
                touched = rows[key] = MessageFold(patch)
        _apply(touched, event)
    return Folded(rows, run_archives, [c for c, last in derive.items() if last])


def fold(window: int, events: Iterable[tuple[bytes, str, Message | None]]) -> Fold:
    """``fold_events``, encoded as the patch table's rows of the window after ``window``."""
    folded = fold_events(events)
    rows = folded.rows
    w = staging.int8_field(window)
    copy_rows = []
    inserts = updates = False
    for key, touched in rows.items():
        copy_rows.append(_patch_row(w, key, touched))
        inserts = inserts or touched.row is not None
        updates = updates or touched.patch is not None
    derived = [UUID(bytes=c) for c in folded.derive]
    return Fold(window, copy_rows, derived, inserts, updates, _run_archives(folded))


def _run_archives(folded: Folded) -> list[RunArchive]:
    if not folded.run_archives:
        return []
    touched: dict[tuple[bytes, int], list[str]] = {}
    for campaign_id, run, key in folded.rows:
        touched.setdefault((campaign_id, run), []).append(key)
    return [
        RunArchive(
            UUID(bytes=campaign_id),
            run,
            archive.orphaned,
            archive.reason_if_none,
            staging.as_datetime(archive.first_ts or 0),
            touched.get((campaign_id, run), []),
        )
        for (campaign_id, run), archive in folded.run_archives.items()
    ]


# The patch table's columns, in COPY order (see ``projections.events``).
PATCH_COLUMNS = (
    "w", "cid", "run", "key", "ins", "must", "i_mid", "i_content", "i_origin", "i_source",
    "i_status", "i_review", "i_stage", "i_reason", "i_archived_at", "i_created_at",
    "i_published_at", "upd", "p_content", "p_regenerated", "p_status", "p_review", "p_stage",
    "p_published_at", "a_archived", "a_orphaned", "a_reason", "a_ts",
)  # fmt: skip
_ROW_START = staging.field_count(len(PATCH_COLUMNS))
_FALSE, _TRUE = staging.BOOL_FIELDS
_NULL = staging.NULL
_NO_ROW = _NULL * 11  # i_mid .. i_published_at


_NOT_ARCHIVED = _FALSE + _FALSE + _NULL + _NULL


def _archive_fields(archive: Archive | None) -> bytes:
    if archive is None:
        return _NOT_ARCHIVED
    return b"".join(
        (
            _TRUE if archive.archived else _FALSE,
            _TRUE if archive.orphaned else _FALSE,
            staging.text_field(archive.reason_if_none),
            staging.timestamp_field(archive.first_ts),
        )
    )


@cache
def _fields(*values: str | None) -> bytes:
    """Text fields that repeat (statuses, origins), encoded once."""
    return b"".join(map(staging.text_field, values))


_NO_PATCH = _FALSE + _NULL + _FALSE + _NULL * 4 + _NOT_ARCHIVED


def _patch_row(w: bytes, key: tuple[bytes, int, str], touched: MessageFold) -> bytes:
    campaign_id, run, segment_key = key
    row, patch = touched.row, touched.patch
    text, uuid, ts = staging.text_field, staging.uuid_field, staging.timestamp_field
    head = b"".join(
        (
            _ROW_START, w, uuid(campaign_id), staging.int4_field(run), text(segment_key),
            _FALSE if row is None else _TRUE, _TRUE if touched.must_insert else _FALSE,
        )
    )  # fmt: skip
    if row is None:
        inserted = _NO_ROW
    else:
        inserted = b"".join(
            (
                uuid(row.mid), text(row.content), _fields(row.origin), uuid(row.source),
                _fields(*row.statuses, row.reason),
                ts(row.archived_at), ts(row.created_at), ts(row.published_at),
            )
        )  # fmt: skip
    if patch is None:
        return head + inserted + _NO_PATCH
    changed = b"".join(
        (
            _TRUE, text(patch.content), _TRUE if patch.regenerated else _FALSE,
            _fields(*(patch.statuses or (None, None, None))), ts(patch.published_at),
            _archive_fields(patch.archive),
        )
    )  # fmt: skip
    return head + inserted + changed
