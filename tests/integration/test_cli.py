"""The operator and auditor commands, run through the real CLI on a database of their own.

Each test fills a fresh database with ``nudgescribe demo`` (a campaign created, processed,
reviewed, published and rerun), then runs the command under test against it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner, Result

from api.cli import app
from application.database import ConnectionInfo
from tests.dbserver import throwaway_database
from tests.fakes.processes import database_url

pytestmark = pytest.mark.integration

EXPORT_KEYS = {"position", "stream_id", "version", "type", "timestamp", "data", "metadata"}


@dataclass
class Cli:
    db: ConnectionInfo
    env: dict[str, str]

    def run(self, *args: str, exit_code: int = 0) -> Result:
        result = CliRunner().invoke(app, list(args), env=self.env)
        assert result.exit_code == exit_code, (args, result.output, result.exception)
        return result

    def export(self, *args: str) -> list[dict[str, Any]]:
        out = self.run("events", "export", *args).stdout
        return [json.loads(line) for line in out.splitlines()]

    def sql(self, statement: str, *params: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.db.conninfo(), autocommit=True) as conn:
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else []


@pytest.fixture
def cli(pg_server_url: str) -> Iterator[Cli]:
    with (
        throwaway_database(pg_server_url, prefix="nudgescribe_cli") as db,
        tempfile.TemporaryDirectory(prefix="nudgescribe-cli-") as data_dir,
    ):
        env = {"DATABASE_URL": database_url(db), "NUDGESCRIBE_DATA_DIR": data_dir}
        yield Cli(db, env)


@pytest.fixture
def demo(cli: Cli) -> Cli:
    cli.run("demo")
    return cli


def test_demo_runs_a_campaign_life_and_prints_its_run_history(cli: Cli) -> None:
    out = cli.run("demo").stdout

    assert "Run history" in out
    assert "Summer audience" in out
    assert "Spring audience" in out
    assert "2/1/1" in out  # run 2: matched 2, new 1, orphaned 1
    assert "Superseded" in out
    assert "Published" in out


def test_events_export_writes_the_contract_json_lines_in_log_order(demo: Cli) -> None:
    records = demo.export()

    assert all(set(r) == EXPORT_KEYS for r in records)
    positions = [r["position"] for r in records]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    types = {r["type"] for r in records}
    assert {"CampaignCreated", "RunStarted", "MessageGenerated", "SegmentMatched"} <= types
    assert {"MessageArchived", "RunFinalised", "MessageReviewed", "CampaignPublished"} <= types
    created = next(r for r in records if r["type"] == "CampaignCreated")
    assert created["data"]["name"] == "Demo campaign"
    assert created["metadata"]["user_id"] == "demo"
    assert created["metadata"]["ip"] == "127.0.0.1"
    started = [r for r in records if r["type"] == "RunStarted"]
    assert [r["data"]["run_number"] for r in started] == [1, 2]
    assert started[1]["metadata"]["correlation_id"] != started[0]["metadata"]["correlation_id"]


def test_events_export_filters_by_campaign_and_position_and_writes_a_file(demo: Cli) -> None:
    everything = demo.export()
    campaign_id = everything[0]["stream_id"]
    middle = everything[len(everything) // 2]["position"]
    target = Path(demo.env["NUDGESCRIBE_DATA_DIR"]) / "export.jsonl"

    only_campaign = demo.export("--campaign-id", campaign_id)
    after = demo.export("--since", str(middle))
    demo.run("events", "export", "--since", str(middle), "--output", str(target))

    assert only_campaign == [r for r in everything if r["stream_id"] == campaign_id]
    assert after == [r for r in everything if r["position"] > middle]
    assert [json.loads(line) for line in target.read_text().splitlines()] == after
    assert demo.export("--campaign-id", "00000000-0000-0000-0000-000000000000") == []


def test_anchors_export_names_each_stream_head(demo: Cli) -> None:
    records = demo.export()
    out = demo.run("anchors", "export").stdout
    anchors = [json.loads(line) for line in out.splitlines()]

    last_versions: dict[str, int] = {}
    for r in records:
        last_versions[r["stream_id"]] = r["version"]
    assert {a["stream_id"]: a["version"] for a in anchors} == last_versions
    assert all(len(bytes.fromhex(a["chain_hash"])) == 32 for a in anchors)


def test_projections_rebuild_reproduces_the_same_rows(demo: Cli) -> None:
    query = "SELECT * FROM {} ORDER BY 1, 2, 3"
    before = {t: demo.sql(query.format(t)) for t in ("rm_messages", "rm_runs", "rm_jobs")}

    everything = demo.run("projections", "rebuild")
    only_jobs = demo.run("projections", "rebuild", "jobs")

    assert "rebuilt campaign_runs, jobs" in everything.output
    assert "events/s" in everything.output
    assert "rebuilt jobs" in only_jobs.output
    assert {t: demo.sql(query.format(t)) for t in before} == before
    demo.run("verify")


def test_projections_rebuild_refuses_an_unknown_read_model(demo: Cli) -> None:
    result = demo.run("projections", "rebuild", "nope", exit_code=2)

    assert "unknown read model" in result.output


def test_verify_passes_on_an_untouched_log(demo: Cli) -> None:
    out = demo.run("verify").stdout

    assert "hash chains" in out
    assert "DIFFERS" not in out
    assert "intact" in out


def test_verify_reports_an_edited_event_by_stream_and_version(demo: Cli) -> None:
    stream_id = demo.export()[0]["stream_id"]
    demo.sql(
        "UPDATE nudgescribe_events SET state = "
        "convert_to(replace(convert_from(state, 'UTF8'), 'gold', 'GOLD'), 'UTF8') "
        "WHERE originator_id = %s AND originator_version = 3",
        stream_id,
    )

    out = demo.run("verify", exit_code=1).stdout

    assert f"stream {stream_id} version 3: edited" in out
    assert "verify failed" in out


def test_verify_reports_a_deleted_event_by_stream_and_version(demo: Cli) -> None:
    stream_id = demo.export()[0]["stream_id"]
    demo.sql(
        "DELETE FROM nudgescribe_events WHERE originator_id = %s AND originator_version = 4",
        stream_id,
    )

    out = demo.run("verify", exit_code=1).stdout

    assert f"stream {stream_id} version 4: deleted" in out


def test_verify_reports_read_model_rows_that_differ_from_the_log(demo: Cli) -> None:
    demo.sql("UPDATE rm_runs SET status = 'Failed' WHERE run_number = 1")

    out = demo.run("verify", exit_code=1).stdout

    assert "rm_runs" in out
    assert "DIFFERS" in out
    assert "tampered" not in out  # the log itself is intact


@pytest.mark.parametrize("user_id", ["processor", "a\nb"])
def test_token_refuses_a_user_id_no_request_could_act_as(cli: Cli, user_id: str) -> None:
    result = cli.run(
        "token",
        "--account-id",
        "00000000-0000-0000-0000-000000000001",
        "--user-id",
        user_id,
        exit_code=1,
    )

    assert "user_id" in result.output
