"""Batching never changes the result: one event per transaction, 20,000-position batches
(their message events folded per row, or applied group by group) and small batches each
read ahead on a second connection build the same read models, row for row, from one
randomised history."""

from __future__ import annotations

import contextlib
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from application.database import open_pool
from domain.errors import DomainError
from projections.projector import ProjectionSet
from projections.read_ahead import ReadAhead, from_pool
from projections.rebuild import _tables, drop_schema, table_differences
from projections.registry import PROJECTORS, build_projectors
from projections.runner import ProjectionRunner
from projections.schema import POSITIONS, read_model_ddl, table
from tests.drive import finish_run
from tests.integration.test_projections_rebuild import members, run_step, steps
from tests.projection_helpers import create_campaign

pytestmark = pytest.mark.integration


def project(
    pool,
    after: int,
    batch_size: int,
    max_batch_size: int,
    read_ahead: bool = False,
    fold: bool = True,
) -> str:  # type: ignore[no-untyped-def]
    """Every read model of the log after ``after``, into a scratch schema (its name);
    ``read_ahead``: each next batch read on a second connection; ``fold``: each window's
    message events folded per message row (else applied group by group)."""
    schema = f"rm_batching_{uuid4().hex[:8]}"
    names = list(PROJECTORS)
    with pool.connection() as conn:
        with conn.transaction():
            for statement in read_model_ddl(schema, [POSITIONS, *_tables(names)]):
                conn.execute(statement)
        projections = ProjectionSet(
            build_projectors(schema, names),
            schema=schema,
            batch_size=batch_size,
            max_batch_size=max_batch_size,
            fold_messages=fold,
        )
        with conn.transaction(), conn.cursor() as cur:
            projections.lock_positions(cur)
            projections.set_position(cur, after)
        projections.catch_up_on(conn, read_ahead=from_pool(pool) if read_ahead else None)
    return schema


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_one_event_per_batch_equals_large_batches(data, commands, store, pool, db):  # type: ignore[no-untyped-def]
    runner = ProjectionRunner(pool, db.conninfo())
    start = store.max_position()
    account_id = uuid4()
    campaigns = [create_campaign(commands, pool, account_id, data.draw(members)) for _ in range(2)]
    for step in data.draw(st.lists(steps, min_size=15, max_size=40)):
        campaign_id = data.draw(st.sampled_from(campaigns))
        with contextlib.suppress(DomainError):
            run_step(step, data, commands, store, pool, account_id, campaign_id, runner)

    # The reference: one event per batch, message events applied as their handlers do.
    per_event = project(pool, start, batch_size=1, max_batch_size=1, fold=False)
    batched = project(pool, start, batch_size=500, max_batch_size=20_000)  # folded
    unfolded = project(pool, start, batch_size=500, max_batch_size=20_000, fold=False)
    # Small batches make many windows read ahead (each read while the one before is applied).
    read_ahead = project(pool, start, batch_size=3, max_batch_size=12, read_ahead=True)
    others = (batched, unfolded, read_ahead)
    try:
        with pool.connection() as conn:
            differences = {
                (name, other): table_differences(conn, name, per_event, other, campaigns)
                for name in _tables(list(PROJECTORS))
                for other in others
            }
            query = sql.SQL("SELECT count(*) FROM {} WHERE campaign_id = ANY(%s)")
            runs = conn.execute(query.format(table("rm_runs", per_event)), (campaigns,))
            projected = runs.fetchone()[0]  # type: ignore[index]
    finally:
        with pool.connection() as conn:
            for schema in (per_event, *others):
                drop_schema(conn, schema)
    assert differences == dict.fromkeys(differences, 0)
    assert projected >= 2  # the comparison is not vacuous: every campaign has a run


def test_a_window_read_ahead_is_used_only_where_the_next_batch_starts(pool):  # type: ignore[no-untyped-def]
    after = 0
    with ReadAhead(pool.connection) as ahead:
        ahead.submit(after, 5, upto=None)
        moved = ahead.take(after + 1, upto=None)  # another catch-up moved the positions
        ahead.submit(after, 5, upto=None)
        other_bound = ahead.take(after, upto=3)
        ahead.submit(after, 5, upto=None)
        window = ahead.take(after, upto=None)

    assert moved is None
    assert other_bound is None
    assert window is not None
    assert (window.after, window.end) == (0, 5)
    assert ahead.take(after, upto=None) is None  # taken once


def test_a_catch_up_reads_in_line_when_the_pool_has_no_second_connection(pool, db, store, commands):  # type: ignore[no-untyped-def]
    start = store.max_position()
    create_campaign(commands, pool, uuid4(), [{"plan": f"p{i}"} for i in range(30)])
    expected = project(pool, start, batch_size=1, max_batch_size=1)
    single = open_pool(db, max_size=1, name="single")
    try:
        # Every window after the first would be read ahead; none can be: all read in line.
        in_line = project(single, start, batch_size=2, max_batch_size=4, read_ahead=True)
        with pool.connection() as conn:
            differences = {
                name: table_differences(conn, name, expected, in_line, None)
                for name in _tables(list(PROJECTORS))
            }
    finally:
        single.close()
        with pool.connection() as conn:
            drop_schema(conn, expected)
            drop_schema(conn, in_line)
    assert differences == dict.fromkeys(differences, 0)


def test_a_catch_up_inside_a_transaction_reads_ahead(pool, store, commands):  # type: ignore[no-untyped-def]
    # Batches as savepoints of one transaction (verify, a rebuild's top-up) share the
    # session's staging tables: each reads only its own window's rows.
    start = store.max_position()
    campaign_id = create_campaign(commands, pool, uuid4(), [{"plan": f"p{i}"} for i in range(30)])
    finish_run(store, campaign_id)
    expected = project(pool, start, batch_size=1, max_batch_size=1)
    schema = f"rm_batching_{uuid4().hex[:8]}"
    names = list(PROJECTORS)
    try:
        with pool.connection() as conn:
            with conn.transaction():
                for statement in read_model_ddl(schema, [POSITIONS, *_tables(names)]):
                    conn.execute(statement)
            projections = ProjectionSet(
                build_projectors(schema, names), schema=schema, batch_size=2, max_batch_size=4
            )
            with conn.transaction(), conn.cursor() as cur:
                projections.lock_positions(cur)
                projections.set_position(cur, start)
                projections.catch_up_on(conn, read_ahead=from_pool(pool))
            assert len(projections.batch_sizes) > 3  # several windows were read ahead
            differences = {
                name: table_differences(conn, name, expected, schema, None)
                for name in _tables(names)
            }
    finally:
        with pool.connection() as conn:
            drop_schema(conn, expected)
            drop_schema(conn, schema)
    assert differences == dict.fromkeys(differences, 0)
