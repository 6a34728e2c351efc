"""The recorder's one-call append: chained, anchored, atomic, on real PostgreSQL.

What the plpgsql append function and the recorder around it must keep from the statement-
by-statement recorder they replaced: byte-identical chain hashes, heads anchored in the
same transaction, notification ids in save order, conflicts as IntegrityError, extra writes
in the same transaction; plus what is new: a remembered head that is wrong is caught by the
function and the save chains again from the stored hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from application.audit import verify_chains
from application.chain import GENESIS
from application.recorder import ROWS_PER_STATEMENT
from application.store import CampaignStore, IntegrityError, store_env
from domain.campaign import Campaign
from domain.segments import Segment

pytestmark = pytest.mark.integration

TEMPLATE = {"provider": "template", "template": "Hi {{plan}}"}


@pytest.fixture
def fresh_store(db, pool) -> Iterator[CampaignStore]:  # type: ignore[no-untyped-def]
    """A store of its own: its remembered heads are the test's to disturb."""
    store = CampaignStore(store_env(db, pool_size=1), snapshot_every=10**9)
    yield store
    store.close()


def started(segments: int) -> tuple[Campaign, list[str]]:
    campaign = Campaign.create(
        account_id=uuid4(),
        name="recorder",
        segment_variables=["plan"],
        ai_config=TEMPLATE,
        customer_group_id=uuid4(),
        created_by="t",
        campaign_id=uuid4(),
    )
    campaign.start_first_run(
        customer_group_id=uuid4(),
        customer_group_name="g",
        segments=[Segment.of({"plan": f"p{i}"}, 1) for i in range(segments)],
        job_uid=uuid4(),
        initiated_by="t",
        ip="127.0.0.1",
    )
    return campaign, campaign.pending_generations()


def generate(campaign: Campaign, keys: Sequence[str]) -> None:
    for key in keys:
        campaign.record_generated_message(
            1, key, f"Hi {key}", generator="template", model=None, prompt_digest="t"
        )


def stored_rows(db, stream_id: UUID) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    with psycopg.connect(db.conninfo()) as conn:
        return conn.execute(
            "SELECT originator_version, topic, state, chain_hash, notification_id"
            " FROM nudgescribe_events WHERE originator_id = %s ORDER BY originator_version",
            (stream_id,),
        ).fetchall()


def head(db, stream_id: UUID) -> tuple[Any, ...] | None:  # type: ignore[no-untyped-def]
    with psycopg.connect(db.conninfo()) as conn:
        return conn.execute(
            "SELECT originator_version, chain_hash, notification_id FROM stream_heads"
            " WHERE originator_id = %s",
            (stream_id,),
        ).fetchone()


def stream_problems(db, stream_id: UUID) -> list[str]:  # type: ignore[no-untyped-def]
    with psycopg.connect(db.conninfo()) as conn:
        _, problems = verify_chains(conn)
    return [str(p) for p in problems if p.stream_id == stream_id]


def test_each_row_carries_the_documented_hash_and_the_head_is_the_last_row(db, fresh_store):
    campaign, keys = started(3)
    fresh_store.save_campaign(campaign)
    generate(campaign, keys[:1])
    fresh_store.save_campaign(campaign)  # one event chained onto the remembered head
    generate(campaign, keys[1:])
    position = fresh_store.save_campaign(campaign)

    rows = stored_rows(db, campaign.id)
    previous = GENESIS
    for version, topic, state, stored_hash, _ in rows:
        expected = hashlib.sha256(
            previous
            + campaign.id.bytes
            + version.to_bytes(8, "big")
            + topic.encode()
            + b"\x00"
            + bytes(state)
        ).digest()
        assert bytes(stored_hash) == expected
        previous = expected
    last_version, last_hash, last_position = head(db, campaign.id)
    assert (last_version, bytes(last_hash)) == (rows[-1][0], bytes(rows[-1][3]))
    assert last_position == rows[-1][4] == position
    assert stream_problems(db, campaign.id) == []


def test_a_save_larger_than_one_statement_is_one_chain_with_ids_in_save_order(db, fresh_store):
    campaign, keys = started(ROWS_PER_STATEMENT * 2 + 7)
    fresh_store.save_campaign(campaign)
    generate(campaign, keys)

    recordings = fresh_store.save(campaign)

    ids = [r.notification.id for r in recordings]
    assert len(ids) == len(keys)
    assert ids == sorted(ids)
    rows = stored_rows(db, campaign.id)
    stored_ids = {version: position for version, _, _, _, position in rows}
    assert [stored_ids[r.notification.originator_version] for r in recordings] == ids
    assert head(db, campaign.id)[0] == campaign.version
    assert stream_problems(db, campaign.id) == []


def test_two_streams_in_one_save_each_get_their_chain_and_head(db, fresh_store):
    first, first_keys = started(2)
    second, second_keys = started(2)
    fresh_store.save_campaign(first, second)
    generate(first, first_keys)
    generate(second, second_keys)

    fresh_store.save_campaign(first, second)

    for campaign in (first, second):
        assert head(db, campaign.id)[0] == campaign.version
        assert stream_problems(db, campaign.id) == []


def test_a_wrong_remembered_head_is_refused_and_the_save_chains_from_the_stored_hash(
    db, fresh_store
):
    campaign, keys = started(2)
    fresh_store.save_campaign(campaign)
    recorder = fresh_store.recorder
    recorder._heads[campaign.id] = (campaign.version, b"\x01" * 32)  # version right, hash wrong
    generate(campaign, keys)

    fresh_store.save_campaign(campaign)

    assert stream_problems(db, campaign.id) == []
    assert recorder._heads[campaign.id] == (
        campaign.version,
        bytes(stored_rows(db, campaign.id)[-1][3]),
    )


def test_an_edited_last_event_is_still_chained_onto_and_reported_as_edited(db, fresh_store):
    """As before the function: a save chains onto the stored hash, whatever was done to the
    row, so verify still pins the edit on the edited event and nothing after it."""
    campaign, keys = started(2)
    fresh_store.save_campaign(campaign)
    edited = campaign.version
    with psycopg.connect(db.conninfo(), autocommit=True) as conn:
        conn.execute(
            "UPDATE nudgescribe_events SET chain_hash = %s"
            " WHERE originator_id = %s AND originator_version = %s",
            (b"\x02" * 32, campaign.id, edited),
        )
    generate(campaign, keys)

    fresh_store.save_campaign(campaign)

    assert stream_problems(db, campaign.id) == [f"stream {campaign.id} version {edited}: edited"]


def test_a_version_clash_is_an_integrity_error_and_stores_nothing(db, fresh_store):
    campaign, keys = started(2)
    fresh_store.save_campaign(campaign)
    copy = fresh_store.get_campaign(campaign.id)
    generate(campaign, keys[:1])
    generate(copy, keys[1:])
    fresh_store.save_campaign(campaign)
    before = stored_rows(db, campaign.id)

    with pytest.raises(IntegrityError):
        fresh_store.save_campaign(copy)

    assert stored_rows(db, campaign.id) == before
    assert head(db, campaign.id)[0] == campaign.version


def test_extra_writes_see_the_ids_and_their_failure_undoes_the_events(db, fresh_store):
    campaign, keys = started(2)
    fresh_store.save_campaign(campaign)
    version = campaign.version
    generate(campaign, keys)
    seen: list[Sequence[int]] = []

    def failing(curs: Any, ids: Sequence[int]) -> None:
        seen.append(list(ids))
        curs.execute("SELECT 1/0")

    with pytest.raises(Exception, match="division by zero"):
        fresh_store.save_campaign(campaign, also_write=failing)

    assert len(seen) == 1
    assert len(seen[0]) == len(keys)
    assert [row[0] for row in stored_rows(db, campaign.id)][-1] == version
    assert head(db, campaign.id)[0] == version
