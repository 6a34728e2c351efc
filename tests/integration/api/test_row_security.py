"""The database keeps each account to its own rows: a query that forgot its
``account_id`` filter, run the way the API runs its queries, sees nothing foreign."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from psycopg import errors, sql

from application.row_security import ACCOUNT_TABLES, CAMPAIGN_TABLES, account_connection
from application.webhooks.outbox import Outbox, Result
from tests.api_client import Api

pytestmark = pytest.mark.integration


def visible(pool: Any, api: Api, table: str) -> int:
    """Every row of ``table`` the account's transaction sees, with no filter at all."""
    with account_connection(pool, api.account_id) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        return int(row.fetchone()[0])  # type: ignore[index]


@pytest.fixture
def pool(http: TestClient) -> Any:
    return http.app.state.container.pool  # type: ignore[attr-defined]


def test_a_query_without_its_account_filter_sees_only_its_own_rows(
    api: Api, other: Api, pool: Any
) -> None:
    api.define_fields("plan", "region")
    campaign_id, group_id = api.published_campaign("rls")
    body = {"campaign_id": campaign_id, "new_customer_group_id": group_id}
    api.ok("/v1/campaign/rerun/initiate", body, headers={"Idempotency-Key": "rls-1"})
    hook = {"url": "https://93.184.215.14/hook", "events": ["run.completed"]}
    webhook_id = api.ok("/v1/webhooks/create", hook)["data"]["webhook_id"]
    ping = api.ok("/v1/webhooks/test", {"webhook_id": webhook_id})["data"]["message_id"]
    # An attempt recorded as the dispatcher records it (this app runs none).
    Outbox(pool).record([Result(ping, UUID(webhook_id), 200, 1.0, None, None, True)])
    for table in (*ACCOUNT_TABLES, *CAMPAIGN_TABLES):
        if table == "rm_job_campaigns":
            continue  # the processor's table, emptied once a job ends
        assert visible(pool, api, table) > 0, table
        assert visible(pool, other, table) == (1 if table == "accounts" else 0), table


def test_a_write_for_another_account_is_refused(api: Api, other: Api, pool: Any) -> None:
    with (
        pytest.raises(errors.InsufficientPrivilege),
        account_connection(pool, other.account_id) as conn,
    ):
        conn.execute(
            "INSERT INTO customers (account_id, external_id) VALUES (%s, 'planted')",
            (api.account_id,),
        )


def test_two_accounts_side_by_side(api: Api, other: Api) -> None:
    """Content, commands and reads (the hot ones too) work for each account as before."""
    campaigns = {}
    for client, name in ((api, "a"), (other, "b")):
        client.define_fields("plan", "region")
        campaigns[name] = client.published_campaign(name)[0]
    for client, name in ((api, "a"), (other, "b")):
        body = {"campaign_id": campaigns[name]}
        assert len(client.ok("/v1/customers/list", {})["data"]) == 4
        assert len(client.ok("/v1/campaign/rerun/history", body)["data"]) == 1
        assert len(client.ok("/v1/campaign/rerun/messages", body)["data"]) == 2
        listed = client.ok("/v1/campaign/list", {})["data"]
        assert [c["campaign_id"] for c in listed] == [campaigns[name]]
