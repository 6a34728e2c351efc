"""``nudgescribe webhooks list | deliveries | redeliver`` on an account's webhook."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest
from typer.testing import CliRunner

from api.cli import app
from application.webhooks.endpoints import Webhooks
from application.webhooks.outbox import Outbox, Result
from tests.fakes.processes import database_url

pytestmark = pytest.mark.integration


def test_list_deliveries_and_redeliver(  # type: ignore[no-untyped-def]
    db, pool, tmp_path: Path, subscribe: Callable[..., UUID], webhooks: Webhooks, account_id
) -> None:
    env = {"DATABASE_URL": database_url(db), "NUDGESCRIBE_DATA_DIR": str(tmp_path)}

    def run(*args: str, exit_code: int = 0) -> str:
        result = CliRunner().invoke(app, ["webhooks", *args], env=env)
        assert result.exit_code == exit_code, (args, result.output, result.exception)
        return result.stdout

    webhook_id = subscribe("cli")
    ping = webhooks.test(account_id, webhook_id)
    failed = Result(ping, webhook_id, 503, 12.5, "HTTP 503", datetime.now(UTC), False)
    Outbox(pool).record([failed])
    account = ["--account-id", str(account_id)]

    (listed,) = [json.loads(line) for line in run("list", *account, "--json").splitlines()]
    assert listed["webhook_id"] == str(webhook_id)
    assert listed["enabled"] is True
    assert "webhook_id" in run("list", *account)  # a table by default

    shown = run("deliveries", str(webhook_id), *account, "--json").splitlines()
    (attempt,) = [json.loads(line) for line in shown]
    assert attempt["message_id"] == ping
    assert attempt["status_code"] == 503

    run("redeliver", str(webhook_id), ping, *account)
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT state, next_attempt_at <= now() FROM webhook_deliveries WHERE message_id = %s",
            (ping,),
        ).fetchone()
    assert row == ("pending", True)
    run("redeliver", str(webhook_id), "msg_none", *account, exit_code=1)
    run("deliveries", str(webhook_id), "--account-id", str(UUID(int=1)), exit_code=1)
