"""The read-model tables, created idempotently; every statement can target another schema.

A rebuild fills fresh copies of a projector's tables in a scratch schema and swaps them in,
so the DDL is a function of the schema. ``READ_MODEL_DDL`` is the live set (search path).
"""

from __future__ import annotations

from psycopg import sql

POSITIONS = "rm_positions"
CAMPAIGNS = "rm_campaigns"
RUNS = "rm_runs"
SEGMENTS = "rm_run_segments"
MESSAGES = "rm_messages"
JOBS = "rm_jobs"
JOB_CAMPAIGNS = "rm_job_campaigns"

# {t} is the table, {i} an index-name prefix; indexes live in their table's schema.
_TABLES: dict[str, list[str]] = {
    POSITIONS: [
        "CREATE TABLE IF NOT EXISTS {t} (name text PRIMARY KEY, position bigint NOT NULL,"
        " updated_at timestamptz NOT NULL)"
    ],
    CAMPAIGNS: [
        "CREATE TABLE IF NOT EXISTS {t} (campaign_id uuid PRIMARY KEY, account_id uuid NOT NULL,"
        " name text NOT NULL, status text NOT NULL, current_run_number int NOT NULL,"
        " customer_group_id uuid NOT NULL, segment_variables jsonb NOT NULL,"
        " ai_config jsonb NOT NULL, message_counts jsonb NOT NULL,"
        " created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)",
        "CREATE INDEX IF NOT EXISTS {i}_account ON {t} (account_id, created_at DESC, campaign_id)",
        "CREATE INDEX IF NOT EXISTS {i}_group ON {t} (account_id, customer_group_id)",
    ],
    RUNS: [
        "CREATE TABLE IF NOT EXISTS {t} (campaign_id uuid NOT NULL, run_number int NOT NULL,"
        " customer_group_id uuid NOT NULL, customer_group_name text NOT NULL,"
        " segment_count int NOT NULL, status text NOT NULL, matched int NOT NULL,"
        " new int NOT NULL, orphaned int NOT NULL, initiated_by text NOT NULL,"
        " initiated_from_ip text NOT NULL, job_uid uuid NOT NULL,"
        " started_at timestamptz NOT NULL, completed_at timestamptz,"
        " PRIMARY KEY (campaign_id, run_number))"
    ],
    SEGMENTS: [
        "CREATE TABLE IF NOT EXISTS {t} (campaign_id uuid NOT NULL, run_number int NOT NULL,"
        " segment_key text NOT NULL, segment_values jsonb NOT NULL, customer_count int NOT NULL,"
        " PRIMARY KEY (campaign_id, run_number, segment_key))"
    ],
    MESSAGES: [
        # The primary key is the keyset-paging order: (campaign, run, segment_key).
        "CREATE TABLE IF NOT EXISTS {t} (campaign_id uuid NOT NULL, run_number int NOT NULL,"
        " segment_key text NOT NULL, message_id uuid NOT NULL, segment jsonb NOT NULL,"
        " customer_count int NOT NULL, content text NOT NULL, origin text NOT NULL,"
        " copied_from_message_id uuid, status text NOT NULL, review_status text NOT NULL,"
        " approval_stage text NOT NULL, archive_reason text, archived_at timestamptz,"
        " created_at timestamptz NOT NULL, published_at timestamptz,"
        " PRIMARY KEY (campaign_id, run_number, segment_key)) WITH (fillfactor = 60)"
    ],
    JOBS: [
        "CREATE TABLE IF NOT EXISTS {t} (job_uid uuid PRIMARY KEY, campaign_id uuid NOT NULL,"
        " account_id uuid NOT NULL, run_number int NOT NULL, phase text NOT NULL,"
        " copied int NOT NULL, generated int NOT NULL, archived int NOT NULL,"
        " total int NOT NULL, error text)",
        "CREATE UNIQUE INDEX IF NOT EXISTS {i}_run ON {t} (campaign_id, run_number)",
    ],
    JOB_CAMPAIGNS: [
        "CREATE TABLE IF NOT EXISTS {t} (campaign_id uuid PRIMARY KEY, account_id uuid NOT NULL)"
    ],
}


def table(name: str, schema: str | None = None) -> sql.Identifier:
    return sql.Identifier(schema, name) if schema else sql.Identifier(name)


def table_ddl(name: str, schema: str | None = None) -> list[sql.Composed]:
    return [
        sql.SQL(statement).format(t=table(name, schema), i=sql.SQL(name))  # type: ignore[arg-type]
        for statement in _TABLES[name]
    ]


def read_model_ddl(schema: str | None = None, names: list[str] | None = None) -> list[sql.Composed]:
    statements: list[sql.Composed] = []
    if schema:
        statements.append(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    for name in names or list(_TABLES):
        statements.extend(table_ddl(name, schema))
    return statements


READ_MODEL_DDL: list[sql.Composable] = [*read_model_ddl()]
