"""The read-model tables: their columns, keys and DDL, defined once.

A rebuild fills fresh copies of a projector's tables in a scratch schema and swaps them in,
so every statement can target another schema. ``READ_MODEL_DDL`` is the live set (search
path). The writer (``projections.writer``) copies rows in the column order given here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, SQL type, with NOT NULL where it holds)
    key: tuple[str, ...]  # how the projectors find and upsert a row (a unique index)
    primary_key: tuple[str, ...] = ()  # when it is not ``key``
    options: str = ""  # storage parameters after the column list
    # Statements that add to a table an earlier version created the columns added since
    # (``ADD COLUMN IF NOT EXISTS``, with a default where the column is NOT NULL); {t}: the
    # table. The rows an earlier version wrote then equal a fold of the same log.
    added_columns: tuple[str, ...] = ()
    indexes: tuple[str, ...] = ()  # {t}: the table, {i}: an index-name prefix

    def key_of(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(map(row.__getitem__, self.key))

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def types(self) -> list[str]:
        """The bare type of each column, for a binary COPY."""
        return [kind.removesuffix(" NOT NULL") for _, kind in self.columns]


POSITIONS = "rm_positions"
CAMPAIGNS = "rm_campaigns"
CAMPAIGN_TABLE = Table(
    CAMPAIGNS,
    (
        ("campaign_id", "uuid"), ("account_id", "uuid NOT NULL"), ("name", "text NOT NULL"),
        ("status", "text NOT NULL"), ("current_run_number", "int4 NOT NULL"),
        ("customer_group_id", "uuid NOT NULL"), ("segment_variables", "jsonb NOT NULL"),
        ("ai_config", "jsonb NOT NULL"), ("message_counts", "jsonb NOT NULL"),
        ("created_at", "timestamptz NOT NULL"), ("updated_at", "timestamptz NOT NULL"),
    ),
    key=("campaign_id",),
    indexes=(
        "CREATE INDEX IF NOT EXISTS {i}_account ON {t} (account_id, created_at DESC, campaign_id)",
        "CREATE INDEX IF NOT EXISTS {i}_group ON {t} (account_id, customer_group_id)",
    ),
)  # fmt: skip
RUNS = "rm_runs"
RUN_TABLE = Table(
    RUNS,
    (
        ("campaign_id", "uuid NOT NULL"), ("run_number", "int4 NOT NULL"),
        ("customer_group_id", "uuid NOT NULL"), ("customer_group_name", "text NOT NULL"),
        ("segment_count", "int4 NOT NULL"), ("status", "text NOT NULL"),
        ("matched", "int4 NOT NULL"), ("new", "int4 NOT NULL"), ("orphaned", "int4 NOT NULL"),
        ("initiated_by", "text NOT NULL"), ("initiated_from_ip", "text NOT NULL"),
        ("job_uid", "uuid NOT NULL"), ("started_at", "timestamptz NOT NULL"),
        ("completed_at", "timestamptz"),
    ),
    key=("campaign_id", "run_number"),
)  # fmt: skip
SEGMENTS = "rm_run_segments"
SEGMENT_TABLE = Table(
    SEGMENTS,
    (
        ("campaign_id", "uuid NOT NULL"), ("run_number", "int4 NOT NULL"),
        ("segment_key", "text NOT NULL"), ("segment_values", "jsonb NOT NULL"),
        ("customer_count", "int4 NOT NULL"),
    ),
    key=("campaign_id", "run_number", "segment_key"),
)  # fmt: skip
MESSAGES = "rm_messages"
MESSAGE_TABLE = Table(
    MESSAGES,
    (
        ("campaign_id", "uuid NOT NULL"), ("run_number", "int4 NOT NULL"),
        ("segment_key", "text NOT NULL"), ("message_id", "uuid NOT NULL"),
        ("segment", "jsonb NOT NULL"), ("customer_count", "int4 NOT NULL"),
        ("content", "text NOT NULL"), ("origin", "text NOT NULL"),
        ("copied_from_message_id", "uuid"), ("status", "text NOT NULL"),
        ("review_status", "text NOT NULL"), ("approval_stage", "text NOT NULL"),
        ("archive_reason", "text"), ("archived_at", "timestamptz"),
        ("created_at", "timestamptz NOT NULL"), ("published_at", "timestamptz"),
        ("error", "text"), ("published_content", "text"),
    ),
    # The primary key is the keyset-paging order: (campaign, run, segment_key).
    key=("campaign_id", "run_number", "segment_key"),
    options=" WITH (fillfactor = 60)",
    added_columns=(
        "ALTER TABLE {t} ADD COLUMN IF NOT EXISTS error text",
        # Before drafts of published messages existed, a published message's live text
        # was its content: filled in once, as the column is added.
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = '{t}'::regclass"
        " AND attname = 'published_content') THEN ALTER TABLE {t} ADD COLUMN published_content"
        " text; UPDATE {t} SET published_content = content WHERE status = 'Published';"
        " END IF; END $$",
    ),
)  # fmt: skip
JOBS = "rm_jobs"
JOB_TABLE = Table(
    JOBS,
    (
        ("job_uid", "uuid"), ("campaign_id", "uuid NOT NULL"), ("account_id", "uuid NOT NULL"),
        ("run_number", "int4 NOT NULL"), ("phase", "text NOT NULL"),
        ("copied", "int4 NOT NULL"), ("generated", "int4 NOT NULL"),
        ("archived", "int4 NOT NULL"), ("total", "int4 NOT NULL"), ("error", "text"),
        ("failed", "int4 NOT NULL"),
    ),
    key=("campaign_id", "run_number"),
    primary_key=("job_uid",),
    added_columns=("ALTER TABLE {t} ADD COLUMN IF NOT EXISTS failed int4 NOT NULL DEFAULT 0",),
    indexes=("CREATE UNIQUE INDEX IF NOT EXISTS {i}_run ON {t} (campaign_id, run_number)",),
)  # fmt: skip
JOB_CAMPAIGNS = "rm_job_campaigns"
JOB_CAMPAIGN_TABLE = Table(
    JOB_CAMPAIGNS,
    (("campaign_id", "uuid"), ("account_id", "uuid NOT NULL")),
    key=("campaign_id",),
)
TABLES = {
    t.name: t
    for t in (
        CAMPAIGN_TABLE,
        RUN_TABLE,
        SEGMENT_TABLE,
        MESSAGE_TABLE,
        JOB_TABLE,
        JOB_CAMPAIGN_TABLE,
    )
}


def table(name: str, schema: str | None = None) -> sql.Identifier:
    return sql.Identifier(schema, name) if schema else sql.Identifier(name)


def table_ddl(name: str, schema: str | None = None) -> list[sql.Composed]:
    target = table(name, schema)
    if name == POSITIONS:
        return [
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, position bigint NOT NULL,"
                " updated_at timestamptz NOT NULL)"
            ).format(target)
        ]
    spec = TABLES[name]
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL(kind))  # type: ignore[arg-type]
        for column, kind in spec.columns
    )
    create = sql.SQL("CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({})){}").format(
        target,
        columns,
        sql.SQL(", ").join(map(sql.Identifier, spec.primary_key or spec.key)),
        sql.SQL(spec.options),  # type: ignore[arg-type]
    )
    later = [
        sql.SQL(statement).format(t=target, i=sql.SQL(name))  # type: ignore[arg-type]
        for statement in (*spec.added_columns, *spec.indexes)
    ]
    return [create, *later]


def read_model_ddl(schema: str | None = None, names: list[str] | None = None) -> list[sql.Composed]:
    statements: list[sql.Composed] = []
    if schema:
        statements.append(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    for name in names or [POSITIONS, *TABLES]:
        statements.extend(table_ddl(name, schema))
    return statements


READ_MODEL_DDL: list[sql.Composable] = [*read_model_ddl()]
