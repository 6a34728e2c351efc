"""Tables of the webhooks, applied idempotently by ``nudgescribe migrate``.

``webhook_endpoints`` belong to an account; ``webhook_deliveries`` is the outbox (one row
per message and endpoint, its body fixed when written, so every retry sends the same
bytes under the same ``webhook-id``); ``webhook_attempts`` records each attempt;
``webhook_tracking`` is the follower's position in the log.
"""

from psycopg import sql

from application.store import EVENTS_TABLE

TRACKING_NAME = "webhooks"
CHANNEL = "nudgescribe_webhooks"  # NOTIFYed when the outbox gains due rows

WEBHOOKS_DDL: list[sql.Composable] = [
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS webhook_endpoints (
            webhook_id uuid PRIMARY KEY,
            account_id uuid NOT NULL,
            url text NOT NULL,
            events text[] NOT NULL,
            description text,
            enabled boolean NOT NULL DEFAULT true,
            disabled_reason text,
            secret text NOT NULL,
            previous_secret text,
            previous_secret_until timestamptz,
            failing_since timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now())"""
    ),
    sql.SQL(
        "CREATE INDEX IF NOT EXISTS webhook_endpoints_account_idx ON webhook_endpoints (account_id)"
    ),
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS webhook_deliveries (
            message_id text PRIMARY KEY,
            webhook_id uuid NOT NULL REFERENCES webhook_endpoints ON DELETE CASCADE,
            account_id uuid NOT NULL,
            event_type text NOT NULL,
            position bigint,
            body text NOT NULL,
            state text NOT NULL DEFAULT 'pending',
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL DEFAULT now(),
            retry_until timestamptz NOT NULL,
            last_status_code integer,
            last_error text,
            created_at timestamptz NOT NULL DEFAULT now(),
            delivered_at timestamptz)"""
    ),
    # The claim walks each endpoint's due rows in order; delivered rows drop out of it.
    sql.SQL(
        "CREATE INDEX IF NOT EXISTS webhook_deliveries_due_idx"
        " ON webhook_deliveries (webhook_id, next_attempt_at) WHERE state = 'pending'"
    ),
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS webhook_attempts (
            attempt_id bigserial PRIMARY KEY,
            message_id text NOT NULL REFERENCES webhook_deliveries ON DELETE CASCADE,
            webhook_id uuid NOT NULL,
            account_id uuid NOT NULL,
            event_type text NOT NULL,
            attempted_at timestamptz NOT NULL DEFAULT now(),
            status_code integer,
            duration_ms double precision NOT NULL,
            error text,
            next_retry_at timestamptz)"""
    ),
    sql.SQL(
        "CREATE INDEX IF NOT EXISTS webhook_attempts_endpoint_idx"
        " ON webhook_attempts (webhook_id, attempt_id)"
    ),
    sql.SQL(
        "CREATE INDEX IF NOT EXISTS webhook_attempts_message_idx ON webhook_attempts (message_id)"
    ),
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS webhook_tracking (
            name text PRIMARY KEY,
            position bigint NOT NULL)"""
    ),
    # No endpoint exists before this table does, so the follower starts at the log's head
    # instead of reading years of history that no endpoint could want.
    sql.SQL(
        "INSERT INTO webhook_tracking (name, position)"
        " SELECT {name}, COALESCE(max(notification_id), 0) FROM {events}"
        " ON CONFLICT (name) DO NOTHING"
    ).format(name=sql.Literal(TRACKING_NAME), events=sql.Identifier(EVENTS_TABLE)),
]
