"""The two hot read endpoints (run history, a page of run messages) answered by one SQL
statement each on an asyncio pool, with the response JSON built by PostgreSQL.

Same rows, same order and the same bytes as ``ReadModels`` rendered with orjson (the
e2e test ``test_query_fast_path`` compares them): strings go through ``to_json`` (the
same escapes orjson writes), uuids and ints through their text form, timestamps through
``to_char`` in orjson's form of a UTC datetime (``...THH:MM:SS[.ffffff]Z``, whatever the
session's TimeZone; CONTRACT's timestamps are UTC). Only ``segment`` (any JSON a customer
field holds) is re-encoded in Python, with orjson, so its numbers come out exactly as
before. The campaign check (another account's campaign is a missing one), the run
check, the total and the page are one round trip.
"""

from __future__ import annotations

import time
import weakref
from functools import lru_cache
from typing import Any
from uuid import UUID

import orjson
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from domain.errors import RunNotFound
from projections.schema import CAMPAIGNS, MESSAGES, RUNS

RECHECK_IDLE_SECONDS = 2.0  # a connection idle longer than this is checked before use

_T = {"campaigns": sql.Identifier(CAMPAIGNS), "runs": sql.Identifier(RUNS),
      "messages": sql.Identifier(MESSAGES)}  # fmt: skip


def _ts(column: str) -> str:
    """A timestamptz as orjson writes an aware UTC datetime (OPT_UTC_Z): microseconds
    only when non-zero; JSON null for NULL."""
    text = f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    return f"coalesce('\"' || replace({text}, '.000000', '') || 'Z\"', 'null')"


def _json(column: str) -> str:
    return f"coalesce(to_json({column})::text, 'null')"


def _uuid(column: str) -> str:
    return f"coalesce('\"' || {column} || '\"', 'null')"


# Fields in projections.rows.RunHistoryRow's order; comparison_summary in the key order
# the jsonb it used to be built as had (shorter keys first).
_HISTORY_ROW = (
    "'{{\"run_number\":' || r.run_number"
    " || ',\"customer_group_id\":' || " + _uuid("r.customer_group_id") +
    " || ',\"customer_group_name\":' || " + _json("r.customer_group_name") +
    " || ',\"segment_count\":' || r.segment_count"
    " || ',\"status\":' || " + _json("r.status") +
    " || ',\"comparison_summary\":{{\"new\":' || r.new || ',\"matched\":' || r.matched"
    " || ',\"orphaned\":' || r.orphaned || '}}'"
    " || ',\"initiated_by\":' || " + _json("r.initiated_by") +
    " || ',\"initiated_from_ip\":' || " + _json("r.initiated_from_ip") +
    " || ',\"job_uid\":' || " + _uuid("r.job_uid") +
    " || ',\"started_at\":' || " + _ts("r.started_at") +
    " || ',\"completed_at\":' || " + _ts("r.completed_at") +
    " || ',\"is_current\":' || (r.run_number = c.current_run_number) || '}}'"
)  # fmt: skip
_HISTORY = (
    sql.SQL(
        "SELECT '{{\"data\":[' || coalesce(string_agg(" + _HISTORY_ROW + ", ','"
        " ORDER BY r.run_number DESC), '') || ']}}'"
        " FROM {campaigns} c LEFT JOIN {runs} r ON r.campaign_id = c.campaign_id"
        " WHERE c.campaign_id = %(campaign)s AND c.account_id = %(account)s"
        " GROUP BY c.campaign_id"
    )
    .format(**_T)
    .as_bytes(None)
)  # composed once: psycopg would compose a Composed per call

# A message in projections.rows.MessageRow's order, cut around ``segment``.
_MESSAGE_HEAD = (
    "'{{\"message_id\":' || " + _uuid("m.message_id") +
    " || ',\"run_number\":' || m.run_number"
    " || ',\"segment_key\":' || " + _json("m.segment_key") +
    " || ',\"segment\":'"
)  # fmt: skip
_MESSAGE_TAIL = (
    "',\"customer_count\":' || m.customer_count"
    " || ',\"content\":' || " + _json("m.content") +
    " || ',\"origin\":' || " + _json("m.origin") +
    " || ',\"copied_from_message_id\":' || " + _uuid("m.copied_from_message_id") +
    " || ',\"status\":' || " + _json("m.status") +
    " || ',\"review_status\":' || " + _json("m.review_status") +
    " || ',\"approval_stage\":' || " + _json("m.approval_stage") +
    " || ',\"is_archived\":' || (m.archive_reason IS NOT NULL)"
    " || ',\"archive_reason\":' || " + _json("m.archive_reason") +
    " || ',\"archived_at\":' || " + _ts("m.archived_at") +
    " || ',\"created_at\":' || " + _ts("m.created_at") +
    " || ',\"published_at\":' || " + _ts("m.published_at") + " || '}}'"
)  # fmt: skip
_IN_RUN = (
    " FROM {messages} m WHERE m.campaign_id = %(campaign)s AND m.run_number = r.run"
    " AND (%(archived)s OR m.archive_reason IS NULL)"
)
# No row: no such campaign for this account. run NULL: no such run. Else the total on
# every row and one row per message of the page (none past the end: LEFT JOIN). The
# total sits in a MATERIALIZED CTE so it runs once, not once per row of the page; the
# JSON is built above the LIMIT, so the rows OFFSET skips are never formatted.
# The default page (current run, active messages) takes its total from the campaign's
# message_counts: the campaign_runs projector recomputes them from these very rows in
# the transaction that changes them (its after_batch), and counting a 1,000-message run
# was a third of the statement's time. Any other page counts its rows.
_MESSAGES = sql.SQL(
    "WITH r AS MATERIALIZED (SELECT run, CASE WHEN %(run)s::int IS NULL AND NOT %(archived)s"
    " THEN (SELECT coalesce(sum(n::bigint), 0)::bigint FROM jsonb_each_text(message_counts)"
    " AS counts(status, n)) ELSE (SELECT count(*)" + _IN_RUN + ") END AS total FROM"
    " (SELECT CASE WHEN %(run)s::int IS NULL THEN c.current_run_number ELSE"
    " (SELECT run_number FROM {runs} WHERE campaign_id = %(campaign)s"
    " AND run_number = %(run)s::int) END AS run, c.message_counts FROM {campaigns} c"
    " WHERE c.campaign_id = %(campaign)s AND c.account_id = %(account)s) r)"
    " SELECT r.run, r.total, " + _MESSAGE_HEAD + ", m.segment::text, " + _MESSAGE_TAIL +
    " FROM r LEFT JOIN LATERAL (SELECT m.*" + _IN_RUN +
    " ORDER BY m.segment_key LIMIT %(limit)s OFFSET %(offset)s) m ON true"
    " ORDER BY m.segment_key"
).format(**_T).as_bytes(None)  # fmt: skip


class PageQueries:
    """Run history and run-message pages as response bodies (bytes), on an asyncio pool
    of autocommit connections: each request is one checkout and one round trip."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool

    async def close(self) -> None:
        await self.pool.close()

    async def run_history(self, account_id: UUID, campaign_id: UUID) -> bytes | None:
        """``{"data": [...]}``, newest run first; None for another account's or no campaign."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(_HISTORY, {"campaign": campaign_id, "account": account_id})
            row = await cur.fetchone()
        return None if row is None else row[0].encode()

    async def run_messages(
        self,
        account_id: UUID,
        campaign_id: UUID,
        *,
        run_number: int | None,
        include_archived: bool,
        page: int,
        page_size: int,
    ) -> bytes | None:
        """``{"data": [...], "pagination": {...}}``; same rules as ``ReadModels.run_messages``."""
        params = {
            "campaign": campaign_id,
            "account": account_id,
            "run": run_number,
            "archived": include_archived or run_number is not None,
            "limit": page_size,
            "offset": (max(page, 1) - 1) * page_size,
        }
        async with self.pool.connection() as conn:
            cur = await conn.execute(_MESSAGES, params)
            rows = await cur.fetchall()
        if not rows:
            return None
        run, total = rows[0][0], rows[0][1]
        if run is None:
            raise RunNotFound(campaign_id)
        items = ",".join(
            [head + _compact(segment) + tail for _, _, head, segment, tail in rows if head]
        )
        total_pages = (total + page_size - 1) // page_size
        return (
            f'{{"data":[{items}],"pagination":{{"page":{page},"page_size":{page_size},'
            f'"total":{total},"total_pages":{total_pages}}}}}'
        ).encode()


@lru_cache(maxsize=16_384)
def _compact(segment: str) -> str:
    """A segment (jsonb's text form, spaced) as orjson writes the value it holds; cached,
    as the same segments come back page after page and run after run."""
    return orjson.dumps(orjson.loads(segment)).decode()


_checked_out: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


async def _check_if_idle(conn: AsyncConnection[Any]) -> None:
    """The pool's check, skipped for a connection checked out moments ago: under load no
    checkout pays a round trip for it, and one idle long enough (the server may have
    restarted) is still checked, and replaced when broken, before a request gets it.
    (Stamped here, at checkout, not on return: a pool ``reset`` callback would send
    every return through the pool's worker task.)"""
    now = time.monotonic()
    last, _checked_out[conn] = _checked_out.get(conn, 0.0), now
    if now - last > RECHECK_IDLE_SECONDS:
        await AsyncConnectionPool.check_connection(conn)


async def open_page_queries(conninfo: str, *, max_size: int) -> PageQueries:
    """Open (in the running event loop) the pool the fast read path uses."""
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        conninfo,
        min_size=1,
        max_size=max_size,
        name="nudgescribe-reads",
        timeout=3.0,  # as the sync pool: a down database answers 503 within it
        kwargs={
            "autocommit": True,
            "connect_timeout": 3,
            "application_name": "nudgescribe-reads",
            # psycopg prepares both statements; left to itself PostgreSQL kept planning
            # the messages one afresh on every call (custom plans: ~0.25 ms of its ~1 ms).
            # The generic plan is the same index walk whatever the parameters.
            "options": "-c plan_cache_mode=force_generic_plan",
        },
        check=_check_if_idle,
        open=False,
    )
    await pool.open(wait=True, timeout=10.0)
    return PageQueries(pool)
