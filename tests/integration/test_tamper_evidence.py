"""Hash chains reveal events edited, deleted or re-ordered directly in PostgreSQL."""

from __future__ import annotations

from uuid import UUID

import psycopg
import pytest

from application.audit import export_events, verify_chains, verify_stream
from tests.content_fixtures import define_fields, make_group
from tests.drive import finish_run

pytestmark = pytest.mark.integration

TEMPLATE = {"provider": "template", "template": "Hi {{plan}}"}


def campaign_with_history(commands, store, pool, account_id) -> UUID:  # type: ignore[no-untyped-def]
    define_fields(pool, account_id, ["plan"])
    group = make_group(pool, account_id, [{"plan": p} for p in ("a", "b", "c")])
    started = commands.create(
        account_id=account_id,
        name="c",
        customer_group_id=group,
        segment_variables=["plan"],
        ai_config=TEMPLATE,
    )
    finish_run(store, started.campaign_id)
    return started.campaign_id


def problems_for(db, stream_id: UUID) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    """What the whole log's check finds in the stream, which the stream's own check (the
    console's timeline) must find too."""
    with psycopg.connect(db.conninfo()) as conn:
        _, problems = verify_chains(conn)
        _, own = verify_stream(conn, stream_id)
    found = sorted((p.version, p.problem) for p in problems if p.stream_id == stream_id)
    assert sorted((p.version, p.problem) for p in own) == found
    return found


def tamper(db, statement: str, *params: object) -> None:  # type: ignore[no-untyped-def]
    with psycopg.connect(db.conninfo(), autocommit=True) as conn:
        conn.execute(statement, params)


def test_untouched_log_verifies_clean(db, commands, store, pool, account_id):
    campaign_id = campaign_with_history(commands, store, pool, account_id)

    assert problems_for(db, campaign_id) == []


def test_edited_event_is_reported_by_stream_and_version(db, commands, store, pool, account_id):
    campaign_id = campaign_with_history(commands, store, pool, account_id)

    tamper(
        db,
        "UPDATE nudgescribe_events SET state = "
        "convert_to(replace(convert_from(state, 'UTF8'), 'Hello', 'Hacked'), 'UTF8') "
        "WHERE originator_id = %s AND originator_version = 3",
        campaign_id,
    )

    assert problems_for(db, campaign_id) == [(3, "edited")]


def test_deleted_event_is_reported(db, commands, store, pool, account_id):
    campaign_id = campaign_with_history(commands, store, pool, account_id)

    tamper(
        db,
        "DELETE FROM nudgescribe_events WHERE originator_id = %s AND originator_version = 4",
        campaign_id,
    )

    assert problems_for(db, campaign_id) == [(4, "deleted")]


def test_deleted_last_event_is_caught_by_the_anchored_head(db, commands, store, pool, account_id):
    campaign_id = campaign_with_history(commands, store, pool, account_id)
    last = store.get_campaign(campaign_id).version

    tamper(
        db,
        "DELETE FROM nudgescribe_events WHERE originator_id = %s AND originator_version = %s",
        campaign_id,
        last,
    )

    assert problems_for(db, campaign_id) == [(last, "deleted")]


def test_swapped_events_are_reported_as_reordered(db, commands, store, pool, account_id):
    campaign_id = campaign_with_history(commands, store, pool, account_id)

    tamper(
        db,
        "UPDATE nudgescribe_events e SET state = o.state, topic = o.topic "
        "FROM nudgescribe_events o "
        "WHERE e.originator_id = %s AND o.originator_id = e.originator_id "
        "AND ((e.originator_version = 3 AND o.originator_version = 4) "
        "OR (e.originator_version = 4 AND o.originator_version = 3))",
        campaign_id,
    )

    assert problems_for(db, campaign_id) == [(3, "re-ordered"), (4, "re-ordered")]


def test_export_gives_plain_json_lines_an_auditor_can_read(db, commands, store, pool, account_id):
    campaign_id = campaign_with_history(commands, store, pool, account_id)

    with psycopg.connect(db.conninfo()) as conn:
        records = list(export_events(conn, campaign_id=campaign_id))

    assert [r["version"] for r in records] == list(range(1, len(records) + 1))
    assert records[0]["type"] == "CampaignCreated"
    assert records[0]["data"]["account_id"] == str(account_id)
    assert records[1]["type"] == "RunStarted"
    assert records[1]["data"]["run_number"] == 1
    positions = [r["position"] for r in records]
    assert positions == sorted(positions)
    assert set(records[0]["metadata"]) == {"user_id", "account_id", "ip", "correlation_id"}
    with psycopg.connect(db.conninfo()) as conn:
        later = list(export_events(conn, campaign_id=campaign_id, since=positions[1]))
    assert [r["position"] for r in later] == positions[2:]
