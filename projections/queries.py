"""Queries the API answers from: read-model tables only, scoped to the caller's account.

Another account's campaign is answered exactly as a missing one (``None``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any, TypeVar
from uuid import UUID

from psycopg import Connection, sql
from psycopg.rows import class_row

from domain.errors import RunNotFound
from projections.rows import CampaignRow, JobRow, MessageRow, Page, RunHistoryRow
from projections.schema import CAMPAIGNS, JOBS, MESSAGES, RUNS

T = TypeVar("T")
_T = {"campaigns": sql.Identifier(CAMPAIGNS), "runs": sql.Identifier(RUNS),
      "messages": sql.Identifier(MESSAGES), "jobs": sql.Identifier(JOBS)}  # fmt: skip


def _q(template: str) -> sql.Composed:
    return sql.SQL(template).format(**_T)


_CAMPAIGN_COLUMNS = (
    "campaign_id, account_id, name, status, current_run_number, customer_group_id,"
    " segment_variables, ai_config, message_counts, created_at, updated_at"
)
_MESSAGE_COLUMNS = (
    "message_id, run_number, segment_key, segment, customer_count, content, origin,"
    " copied_from_message_id, status, review_status, approval_stage, error,"
    " archive_reason IS NOT NULL AS is_archived, archive_reason, archived_at, created_at,"
    " published_at, published_content"
)
# Newest run first. No row: the account has no such campaign; one row of NULL run
# columns: a campaign without runs (the LEFT JOIN).
HISTORY = _q(
    "SELECT r.run_number, r.customer_group_id, r.customer_group_name, r.segment_count, r.status,"
    " jsonb_build_object('matched', r.matched, 'new', r.new, 'orphaned', r.orphaned)"
    " AS comparison_summary, r.initiated_by, r.initiated_from_ip, r.job_uid, r.started_at,"
    " r.completed_at, r.run_number = c.current_run_number AS is_current"
    " FROM {campaigns} c LEFT JOIN {runs} r ON r.campaign_id = c.campaign_id"
    " WHERE c.campaign_id = %(campaign)s AND c.account_id = %(account)s"
    " ORDER BY r.run_number DESC"
)
_CAMPAIGN = _q(
    f"SELECT {_CAMPAIGN_COLUMNS} FROM {{campaigns}} WHERE campaign_id = %s AND account_id = %s"
)
_CAMPAIGNS = _q(
    f"SELECT {_CAMPAIGN_COLUMNS} FROM {{campaigns}} WHERE account_id = %(account)s"
    " AND (%(status)s::text IS NULL OR status = %(status)s)"
    " ORDER BY created_at DESC, campaign_id LIMIT %(limit)s OFFSET %(offset)s"
)
_COUNT_CAMPAIGNS = _q(
    "SELECT count(*) FROM {campaigns} WHERE account_id = %(account)s"
    " AND (%(status)s::text IS NULL OR status = %(status)s)"
)
# The messages of run ``r.run`` a page shows (active only unless ``archived``; only those
# with a published text when ``live``).
_IN_RUN = (
    " FROM {messages} WHERE campaign_id = %(campaign)s AND run_number = r.run"
    " AND (%(archived)s OR archive_reason IS NULL)"
    " AND (NOT %(live)s OR published_content IS NOT NULL)"
)


# A page of one run's messages in one round trip. No row: the account has no such
# campaign; ``run`` NULL: no such run; else the run and the total on every row and one
# row per message of the page (past the end, one row of NULL message columns: the LEFT
# JOIN). No run asked: the campaign's current run. MATERIALIZED: the total is counted
# once, not once per row. Segment-key order is the primary key's index order, so OFFSET
# skips index entries (a page deep in a 10,000-message run stays a few ms).
def _run_page(in_run: str) -> sql.Composed:
    return _q(
        "WITH r AS MATERIALIZED (SELECT r.run, (SELECT count(*)" + in_run + ") AS total"
        " FROM (SELECT CASE WHEN %(run)s::int IS NULL THEN c.current_run_number"
        " ELSE (SELECT run_number FROM {runs} WHERE campaign_id = %(campaign)s"
        " AND run_number = %(run)s::int) END AS run FROM {campaigns} c"
        " WHERE c.campaign_id = %(campaign)s AND c.account_id = %(account)s) r)"
        " SELECT r.run, r.total, m.* FROM r LEFT JOIN LATERAL (SELECT "
        + _MESSAGE_COLUMNS
        + in_run
        + " ORDER BY segment_key LIMIT %(limit)s OFFSET %(offset)s) m ON true"
        " ORDER BY m.segment_key"
    )


RUN_PAGE = _run_page(_IN_RUN)
# RUN_PAGE of the messages in one status only (the review console's filter); a separate
# statement, so the API's hot page keeps its plan.
STATUS_PAGE = _run_page(_IN_RUN + " AND status = %(status)s")


def history_params(account_id: UUID, campaign_id: UUID) -> dict[str, Any]:
    return {"account": account_id, "campaign": campaign_id}


def history_of(rows: list[tuple[Any, ...]]) -> list[RunHistoryRow] | None:
    """HISTORY's rows as runs; None: no such campaign for this account."""
    if not rows:
        return None
    return [RunHistoryRow(*row) for row in rows if row[0] is not None]


def page_params(
    account_id: UUID,
    campaign_id: UUID,
    *,
    run: int | None,
    archived: bool,
    live: bool,
    page: int,
    page_size: int,
) -> dict[str, Any]:
    """RUN_PAGE's parameters: no ``run``, the current one; ``archived`` messages too;
    ``live``: only published ones."""
    offset = (max(page, 1) - 1) * page_size
    return {"account": account_id, "campaign": campaign_id, "run": run, "archived": archived,
            "live": live, "limit": page_size, "offset": offset}  # fmt: skip


def page_of(
    rows: list[tuple[Any, ...]], campaign_id: UUID, *, page: int, page_size: int
) -> Page[MessageRow] | None:
    """RUN_PAGE's rows as a page; None: no such campaign for this account."""
    if not rows:
        return None
    run, total = rows[0][0], rows[0][1]
    if run is None:
        raise RunNotFound(campaign_id)
    return Page(
        [MessageRow(*row[2:]) for row in rows if row[2] is not None], page, page_size, total
    )


_JOB = _q(
    "SELECT job_uid, campaign_id, account_id, run_number, phase, copied, generated, archived,"
    " failed, total, error FROM {jobs} WHERE job_uid = %s AND account_id = %s"
)
# The values of the segments ``keys`` name, from any run's message of the campaign.
_SEGMENT_VALUES = _q(
    "SELECT DISTINCT ON (segment_key) segment_key, segment FROM {messages}"
    " WHERE campaign_id = %s AND segment_key = ANY(%s)"
)
_GROUP_IN_USE = _q(
    "SELECT EXISTS (SELECT 1 FROM {campaigns} WHERE account_id = %s AND customer_group_id = %s)"
)


AccountConnection = Callable[[UUID], AbstractContextManager[Connection[Any]]]


class ReadModels:
    """Each call reads in one transaction of the account's own (``connect``: the
    database's row-level security sees only that account's rows), checked out once."""

    def __init__(self, connect: AccountConnection) -> None:
        self.connect = connect

    def _rows(self, account_id: UUID, query: sql.Composed, params: Any) -> list[Any]:
        with self.connect(account_id) as conn:
            return conn.execute(query, params).fetchall()

    def _first(
        self, account_id: UUID, row_type: type[T], query: sql.Composed, params: Any
    ) -> T | None:
        with self.connect(account_id) as conn, conn.cursor(row_factory=class_row(row_type)) as cur:
            return cur.execute(query, params).fetchone()

    def campaign(self, account_id: UUID, campaign_id: UUID) -> CampaignRow | None:
        return self._first(account_id, CampaignRow, _CAMPAIGN, (campaign_id, account_id))

    def campaigns(
        self, account_id: UUID, *, page: int, page_size: int, status: str | None
    ) -> Page[CampaignRow]:
        params = {"account": account_id, "status": status}
        paged = {**params, "limit": page_size, "offset": (max(page, 1) - 1) * page_size}
        with self.connect(account_id) as conn:
            (total,) = conn.execute(_COUNT_CAMPAIGNS, params).fetchone() or (0,)
            with conn.cursor(row_factory=class_row(CampaignRow)) as cur:
                return Page(cur.execute(_CAMPAIGNS, paged).fetchall(), page, page_size, total)

    def run_history(self, account_id: UUID, campaign_id: UUID) -> list[RunHistoryRow] | None:
        return history_of(self._rows(account_id, HISTORY, history_params(account_id, campaign_id)))

    def run_messages(
        self,
        account_id: UUID,
        campaign_id: UUID,
        *,
        run_number: int | None,
        include_archived: bool,
        page: int,
        page_size: int,
        status: str | None = None,
    ) -> Page[MessageRow] | None:
        """No run_number: the current run (active only unless asked); else that whole run.
        ``status``: only the messages in it (the review console's filter)."""
        archived = include_archived or run_number is not None
        return self._page(account_id, campaign_id, run_number, archived, False, page, page_size,
                          status)  # fmt: skip

    def published_messages(
        self, account_id: UUID, campaign_id: UUID, *, page: int, page_size: int
    ) -> Page[MessageRow] | None:
        """The current run's published messages, each with its live text (a draft of it
        under review is not shown here until it is published in its turn)."""
        found = self._page(account_id, campaign_id, None, False, True, page, page_size)
        if found is None:
            return None
        return replace(found, items=[row.as_published() for row in found.items])

    def message_pages(
        self, account_id: UUID, campaign_id: UUID, *, page_size: int
    ) -> tuple[int, int] | None:
        """Total active messages of the current run, and how many pages of ``page_size``."""
        found = self._page(account_id, campaign_id, None, False, False, page=1, page_size=0)
        if found is None:
            return None
        return found.total, (found.total + page_size - 1) // page_size

    def _page(self, account_id: UUID, campaign_id: UUID, run: int | None, archived: bool,
              live: bool, page: int, page_size: int, status: str | None = None,
              ) -> Page[MessageRow] | None:  # fmt: skip
        """RUN_PAGE, or STATUS_PAGE of the messages in ``status``."""
        params = page_params(account_id, campaign_id, run=run, archived=archived,
                             live=live, page=page, page_size=page_size)  # fmt: skip
        query = RUN_PAGE if status is None else STATUS_PAGE
        rows = self._rows(account_id, query, {**params, "status": status})
        return page_of(rows, campaign_id, page=page, page_size=page_size)

    def segment_values(
        self, account_id: UUID, campaign_id: UUID, keys: list[str]
    ) -> dict[str, dict[str, Any]]:
        """Segment key → its values, for the keys the campaign's messages have."""
        return dict(self._rows(account_id, _SEGMENT_VALUES, (campaign_id, keys))) if keys else {}

    def job(self, account_id: UUID, job_uid: UUID) -> JobRow | None:
        return self._first(account_id, JobRow, _JOB, (job_uid, account_id))

    def group_in_current_run(self, account_id: UUID, customer_group_id: UUID) -> bool:
        return bool(self._rows(account_id, _GROUP_IN_USE, (account_id, customer_group_id))[0][0])
