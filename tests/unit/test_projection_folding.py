"""Folding a window's message events per row (projections.folding), without a database:
both cases of each row (it existed before the window, or not), run-level archives in
log order, and which campaigns are derived at the window's end. The batch-equality
property test checks the same against PostgreSQL on random histories."""

from __future__ import annotations

import gc
import sys
from uuid import uuid4

import pytest

from projections.campaign_runs import CampaignRunsProjector
from projections.folding import FOLDED, SETS_STATUS, NotFoldable, fold_events
from projections.interpreter import collector_paused, quick_thread_switches
from projections.staging import Message

CAMPAIGN = uuid4().bytes
OTHER = uuid4().bytes
MID = uuid4().bytes


def message(  # type: ignore[no-untyped-def]
    kind: str, ts: int, key: str | None = "k1", run: int = 1, campaign=CAMPAIGN, **fields
) -> tuple:  # type: ignore[type-arg]
    values: dict = {"mid": MID, "content": None, "decision": None, "source": None, "reason": None}  # type: ignore[type-arg]
    values.update(fields)
    return (campaign, kind, Message(ts, campaign, kind, ts, run, key, **values))


def other(kind: str, campaign: bytes = CAMPAIGN) -> tuple:  # type: ignore[type-arg]
    return (campaign, kind, None)


def test_a_message_generated_reviewed_and_published_is_one_insert_or_one_update() -> None:
    folded = fold_events(
        [
            message("MessageGenerated", 1, content="Hello"),
            message("MessageReviewed", 2, decision="approve"),
            message("MessagePublished", 3),
        ]
    )
    (row_fold,) = folded.rows.values()
    row, patch = row_fold.row, row_fold.patch
    assert row is not None
    assert patch is not None
    # Absent before the window: inserted as the three events leave it.
    assert (row.content, row.origin, row.created_at) == ("Hello", "generated", 1)
    assert row.statuses == ("Published", "Approved", "Published")
    assert row.published_at == 3
    # Existing: the generation's update (content, origin), then the last statuses.
    assert (patch.content, patch.regenerated, patch.published_at) == ("Hello", True, 3)
    assert patch.statuses == ("Published", "Approved", "Published")
    assert not row_fold.must_insert


def test_an_update_of_a_row_the_window_does_not_insert_changes_only_an_existing_row() -> None:
    folded = fold_events([message("MessageReviewed", 1, decision="reject")])
    (row_fold,) = folded.rows.values()
    assert row_fold.row is None  # absent: the update changes nothing
    assert row_fold.patch is not None
    assert row_fold.patch.statuses == ("Rejected", "Rejected", "Reviewed")


def test_a_run_archive_reaches_the_rows_that_exist_at_its_position_only() -> None:
    folded = fold_events(
        [
            message("MessageGenerated", 1, key="a", content="A"),  # inserted before it
            message("MessageArchived", 2, key=None, reason="superseded"),
            message("MessageGenerated", 3, key="b", content="B"),  # after it
            message("MessageArchived", 4, key="b", reason="orphaned"),
        ]
    )
    a = folded.rows[(CAMPAIGN, 1, "a")]
    b = folded.rows[(CAMPAIGN, 1, "b")]
    assert a.row is not None
    assert (a.row.reason, a.row.archived_at) == ("superseded", 2)
    assert b.row is not None
    assert (b.row.reason, b.row.archived_at) == ("orphaned", 4)  # inserted after the run's
    # Had b existed, it was archived with its run first: superseded, then orphaned.
    assert b.patch is not None
    assert b.patch.archive is not None
    archive = b.patch.archive
    assert (archive.first_ts, archive.orphaned, archive.reason_if_none) == (2, True, "orphaned")
    # The run's other rows get the run archive in one statement.
    assert folded.run_archives[(CAMPAIGN, 1)].reason_if_none == "superseded"


def test_an_archive_keeps_the_first_reason_unless_orphaned() -> None:
    folded = fold_events(
        [
            message("MessageArchived", 1, reason="superseded"),
            message("MessageArchived", 2, reason="other"),
        ]
    )
    patch = folded.rows[(CAMPAIGN, 1, "k1")].patch
    assert patch is not None
    assert patch.archive is not None
    assert (patch.archive.reason_if_none, patch.archive.orphaned) == ("superseded", False)
    assert patch.archive.first_ts == 1


def test_a_copy_is_inserted_and_must_not_meet_an_existing_row() -> None:
    folded = fold_events([message("SegmentMatched", 1, content="C", source=MID)])
    (row_fold,) = folded.rows.values()
    assert row_fold.must_insert
    assert row_fold.patch is None
    assert row_fold.row is not None
    assert (row_fold.row.origin, row_fold.row.source) == ("copied", MID)


@pytest.mark.parametrize(
    "events",
    [
        # A copy onto the row the window inserted: the group path fails as it always did.
        [message("MessageGenerated", 1, content="A"), message("SegmentMatched", 2, content="C")],
        [(CAMPAIGN, "MessageReviewed", None)],  # an event the client could not parse
        [message("MessageEdited", 1, content=None)],  # content is required
        [message("MessageReviewed", 1, key=None)],  # only archives reach a whole run
    ],
)
def test_windows_the_fold_cannot_vouch_for_are_left_to_the_group_path(events: list) -> None:  # type: ignore[type-arg]
    with pytest.raises(NotFoldable):
        fold_events(events)


def test_a_campaign_is_derived_when_its_last_status_change_is_a_review_side_event() -> None:
    folded = fold_events(
        [
            message("MessageReviewed", 1, decision="approve"),
            other("CampaignPublished"),  # the lifecycle event sets the status after it
            other("RunFinalised", OTHER),
            message("MessageEdited", 3, campaign=OTHER, content="E"),
            message("MessagePublished", 4, campaign=OTHER),  # not a status change
        ]
    )
    assert folded.derive == [OTHER]


def test_interpreter_settings_are_restored_once_after_the_last_holder() -> None:
    interval, enabled = sys.getswitchinterval(), gc.isenabled()
    with quick_thread_switches(), collector_paused():
        with quick_thread_switches(), collector_paused():
            assert not gc.isenabled()
            assert sys.getswitchinterval() < interval
        assert not gc.isenabled()  # the outer holder still holds them
        assert sys.getswitchinterval() < interval
    assert (sys.getswitchinterval(), gc.isenabled()) == (interval, enabled)


def test_rows_of_a_run_started_in_the_window_are_inserted_without_looking_for_them() -> None:
    started = Message(0, CAMPAIGN, "RunStarted", 0, 2, None, None, None, None, None, None)
    folded = fold_events(
        [
            (CAMPAIGN, "RunStarted", started),
            message("MessageGenerated", 1, run=2, content="New"),
            message("MessageReviewed", 2, run=2, key="k2", decision="approve"),  # no row
            message("MessageGenerated", 3, run=1, key="k3", content="Old run"),
        ]
    )
    new = folded.rows[(CAMPAIGN, 2, "k1")]
    assert (new.patch, new.must_insert) == (None, True)
    assert new.row is not None
    unknown = folded.rows[(CAMPAIGN, 2, "k2")]
    assert (unknown.patch, unknown.row) == (None, None)  # an update of nothing: no write
    old_run = folded.rows[(CAMPAIGN, 1, "k3")]
    assert old_run.patch is not None  # may exist: inserted only where it does not
    assert not old_run.must_insert


def test_the_fold_knows_every_event_that_sets_a_status() -> None:
    # A status-setting event the fold did not know would let a derive overwrite its status.
    projector = CampaignRunsProjector()
    assert set(projector.handlers) - FOLDED == SETS_STATUS
