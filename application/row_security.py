"""Row-level security: the database keeps each account to its own rows.

Every query the API runs for an account is filtered by ``account_id`` in its SQL; the
database enforces the same boundary underneath, so a query that forgot its filter still
sees nothing of another account. ``migrate`` creates ``ACCOUNT_ROLE`` (no login, no
BYPASSRLS, only the table privileges requests need) and a policy on every account-owned
table; a request's transaction switches to that role and names its account
(``account_connection``), both transaction-local, so a pooled connection goes back to the
pool as the owner. The projectors, the processor and the auditor's tools work across
accounts and stay the owner, whom the policies do not restrict (no FORCE).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from psycopg import Connection, sql
from psycopg_pool import ConnectionPool

ACCOUNT_ROLE = "nudgescribe_account"
ACCOUNT_SETTING = "nudgescribe.account_id"

# Tables with an ``account_id`` column, and tables whose rows belong to a campaign of the
# read model (their account is the campaign's, read through its own policy).
ACCOUNT_TABLES = (
    "accounts", "customer_fields", "customers", "customer_groups", "customer_group_members",
    "idempotency_keys", "rm_campaigns", "rm_jobs", "rm_job_campaigns",
    "webhook_endpoints", "webhook_deliveries", "webhook_attempts",
)  # fmt: skip
CAMPAIGN_TABLES = ("rm_runs", "rm_run_segments", "rm_messages")
POLICY = "account_isolation"

ENTER_ACCOUNT = sql.SQL("SELECT set_config('role', {}, true), set_config({}, %s, true)").format(
    sql.Literal(ACCOUNT_ROLE), sql.Literal(ACCOUNT_SETTING)
)


@contextmanager
def account_connection(pool: ConnectionPool[Any], account_id: UUID) -> Iterator[Connection[Any]]:
    """A transaction as ``ACCOUNT_ROLE`` that sees only ``account_id``'s rows."""
    with pool.connection() as conn, conn.transaction():
        conn.execute(ENTER_ACCOUNT, (str(account_id),))
        yield conn


def _create_role() -> sql.Composed:
    # Roles belong to the cluster, databases share them (a test database per session):
    # creating it is idempotent and a concurrent creation elsewhere is no error.
    return sql.SQL(
        "DO $$ BEGIN CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS;"
        " EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    ).format(role=sql.Identifier(ACCOUNT_ROLE))


def _join_role() -> sql.Composed:
    # The service's own login (a superuser may switch to any role already) may switch to it.
    return sql.SQL(
        "DO $$ BEGIN IF NOT pg_has_role(current_user, {name}, 'MEMBER') THEN"
        " EXECUTE format('GRANT %I TO %I', {name}, current_user); END IF; END $$"
    ).format(name=sql.Literal(ACCOUNT_ROLE))


def _policy(table: str, condition: str) -> sql.Composed:
    # Names are ours (constants above). A table this process does not create (the
    # processor migrates without the read models) is left until a migration that does.
    statements = "; ".join((
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {ACCOUNT_ROLE}",
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS {POLICY} ON {table}",
        f"CREATE POLICY {POLICY} ON {table} USING ({condition})",
    ))  # fmt: skip
    return sql.SQL(
        "DO $$ BEGIN IF to_regclass({}) IS NOT NULL THEN EXECUTE {}; END IF; END $$"
    ).format(sql.Literal(table), sql.Literal(statements))


def row_security_ddl() -> list[sql.Composable]:
    """After every table exists: the role, its privileges and the policies."""
    current = f"account_id = nullif(current_setting('{ACCOUNT_SETTING}', true), '')::uuid"
    of_campaign = "campaign_id IN (SELECT campaign_id FROM rm_campaigns)"
    return [
        _create_role(),
        _join_role(),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(ACCOUNT_ROLE)),
        *[_policy(table, current) for table in ACCOUNT_TABLES],
        *[_policy(table, of_campaign) for table in CAMPAIGN_TABLES],
    ]
