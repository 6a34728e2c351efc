"""DDL of the content tables, applied idempotently by ``nudgescribe migrate``."""

from psycopg import sql

CONTENT_DDL = [
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS accounts (
            account_id uuid PRIMARY KEY,
            name text NOT NULL,
            api_key_hash text NOT NULL UNIQUE,
            jwt_secret text,
            created_at timestamptz NOT NULL DEFAULT now())"""
    ),
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS customer_fields (
            field_id uuid PRIMARY KEY,
            account_id uuid NOT NULL,
            name text NOT NULL,
            type text NOT NULL CHECK (type IN ('string', 'number', 'boolean')),
            required boolean NOT NULL DEFAULT false,
            created_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (account_id, name))"""
    ),
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS customers (
            account_id uuid NOT NULL,
            external_id text NOT NULL,
            fields jsonb NOT NULL DEFAULT '{}'::jsonb,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (account_id, external_id))"""
    ),
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS customer_groups (
            customer_group_id uuid PRIMARY KEY,
            account_id uuid NOT NULL,
            name text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now())"""
    ),
    sql.SQL(
        "CREATE INDEX IF NOT EXISTS customer_groups_account_idx "
        "ON customer_groups (account_id, created_at DESC)"
    ),
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS customer_group_members (
            customer_group_id uuid NOT NULL,
            account_id uuid NOT NULL,
            external_id text NOT NULL,
            PRIMARY KEY (customer_group_id, external_id))"""
    ),
    sql.SQL(
        "CREATE INDEX IF NOT EXISTS customer_group_members_customer_idx "
        "ON customer_group_members (account_id, external_id)"
    ),
]
