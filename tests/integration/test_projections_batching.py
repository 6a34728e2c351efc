"""Batching never changes the result: one event per transaction, small windows and
20,000-position windows (each folded into its rows in memory) build the same read models,
row for row, from one randomised history."""

from __future__ import annotations

import contextlib
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from domain.errors import DomainError
from projections.projector import ProjectionSet
from projections.rebuild import _tables, drop_schema, table_differences
from projections.registry import PROJECTORS, build_projectors
from projections.runner import ProjectionRunner
from projections.schema import POSITIONS, read_model_ddl, table
from tests.drive import finish_run
from tests.integration.test_projections_rebuild import members, run_step, steps
from tests.projection_helpers import create_campaign

pytestmark = pytest.mark.integration


def project(pool, after: int, batch_size: int, max_batch_size: int) -> str:  # type: ignore[no-untyped-def]
    """Every read model of the log after ``after``, into a scratch schema (its name)."""
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
        )
        with conn.transaction(), conn.cursor() as cur:
            projections.lock_positions(cur)
            projections.set_position(cur, after)
        projections.catch_up_on(conn)
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

    # The reference: one event per batch, so nothing is folded with anything else.
    per_event = project(pool, start, batch_size=1, max_batch_size=1)
    batched = project(pool, start, batch_size=500, max_batch_size=20_000)
    small = project(pool, start, batch_size=3, max_batch_size=12)  # windows end anywhere
    others = (batched, small)
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


def test_a_catch_up_inside_a_transaction_writes_each_window_once(pool, store, commands):  # type: ignore[no-untyped-def]
    # Batches as savepoints of one transaction (verify, a rebuild's top-up) share the
    # session's staging tables: each writes only its own window's rows.
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
                projections.catch_up_on(conn)
            assert len(projections.batch_sizes) > 3  # several windows in one transaction
            differences = {
                name: table_differences(conn, name, expected, schema, None)
                for name in _tables(names)
            }
    finally:
        with pool.connection() as conn:
            drop_schema(conn, expected)
            drop_schema(conn, schema)
    assert differences == dict.fromkeys(differences, 0)
