"""DDL of the content tables, applied idempotently by ``nudgescribe migrate``."""

from psycopg import sql

# Each member row carries a copy of its customer's fields, so a group's segments are one
# scan of its members (a GROUP BY over a million members need not join customers). The
# database keeps the copy exact: every UPDATE of customers (uploads, field renames and
# deletions) is copied to the members by one set-based statement trigger, and a member
# inserted without fields gets them from its customer.
MEMBER_FIELDS_DDL = [
    sql.SQL("ALTER TABLE customer_group_members ADD COLUMN IF NOT EXISTS fields jsonb"),
    sql.SQL(
        "UPDATE customer_group_members m SET fields = c.fields FROM customers c "
        "WHERE m.fields IS NULL AND c.account_id = m.account_id "
        "AND c.external_id = m.external_id"
    ),
    sql.SQL(
        """CREATE OR REPLACE FUNCTION customer_fields_to_members() RETURNS trigger
        LANGUAGE plpgsql AS $fn$
        BEGIN
            UPDATE customer_group_members m SET fields = changed.fields FROM changed
            WHERE m.account_id = changed.account_id AND m.external_id = changed.external_id
            AND m.fields IS DISTINCT FROM changed.fields;
            RETURN NULL;
        END $fn$"""
    ),
    sql.SQL(
        "CREATE OR REPLACE TRIGGER customers_fields_to_members AFTER UPDATE ON customers "
        "REFERENCING NEW TABLE AS changed FOR EACH STATEMENT "
        "EXECUTE FUNCTION customer_fields_to_members()"
    ),
    sql.SQL(
        """CREATE OR REPLACE FUNCTION member_fields_from_customer() RETURNS trigger
        LANGUAGE plpgsql AS $fn$
        BEGIN
            SELECT c.fields INTO NEW.fields FROM customers c
            WHERE c.account_id = NEW.account_id AND c.external_id = NEW.external_id;
            RETURN NEW;
        END $fn$"""
    ),
    sql.SQL(
        "CREATE OR REPLACE TRIGGER member_fields_from_customer BEFORE INSERT "
        "ON customer_group_members FOR EACH ROW WHEN (NEW.fields IS NULL) "
        "EXECUTE FUNCTION member_fields_from_customer()"
    ),
]

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
    *MEMBER_FIELDS_DDL,
]
