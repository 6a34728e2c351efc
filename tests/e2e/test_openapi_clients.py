"""Clients that trust /openapi.json, against a real ``nudgescribe serve`` on the session's
database server: schemathesis with every check and every phase, and a client generated
by openapi-python-client driving a whole campaign life with the headers as typed
parameters."""

from __future__ import annotations

import base64
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.api_client import auth_context
from tests.dbserver import throwaway_database
from tests.e2e.serving import Server, serve
from tests.fakes.processes import database_url

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
EXAMPLES_PER_OPERATION = 30
# A fixed seed keeps CI's run reproducible; NUDGESCRIBE_FUZZ_SEED=<n> explores others.
SEED = os.environ.get("NUDGESCRIBE_FUZZ_SEED", "20261204")

# A schema-valid request refused by a rule of the campaign or the content: the
# documented business-rule refusals (400), by code. Any other refusal is a finding.
BUSINESS_RULES = {
    "archive_targets_current_run",
    "campaign_is_processing",
    "campaign_not_failed",
    "campaign_not_published",
    "customer_field_exists",
    "generation_failed_messages_exist",
    "group_in_use",
    "invalid_campaign_definition",
    "invalid_campaign_input",
    "invalid_content",
    "invalid_message_transition",
    "invalid_webhook",  # a URL the webhooks may not call, an unknown event type
    "provider_not_configured",
    "template_cannot_render",
    "unpublished_messages_exist",
}


@dataclass(frozen=True)
class Finding:
    check: str  # schemathesis's code: ST201, ST202...
    operation: str
    status: int
    code: str | None  # the error body's code
    message: str | None = field(default=None, compare=False)

    def documented(self) -> str | None:
        """Why this finding is the documented behaviour, or None if it is a defect."""
        if self.check == "ST202" and self.status == 400 and self.code in BUSINESS_RULES:
            return "a business-rule refusal"
        if self.check == "ST203" and self.status == 403 and self.code == "auth_error":
            return "the published page answers a missing or bad JWT 403 auth error, not 401"
        if self.check == "ST201" and self.operation == "POST /v1/customers/upload":
            return "upload rows are checked one by one and answered in `rejected` (200)"
        return None


@dataclass
class Account:
    server: Server
    api_code: str
    account_id: str
    api_key: str
    token: str

    def headers(self) -> dict[str, str]:
        return {"x-auth-context": auth_context(self.api_code), "x-ip": "127.0.0.1"}


@pytest.fixture(scope="module")
def server(pg_server_url: str) -> Iterator[Server]:
    with (
        throwaway_database(pg_server_url, prefix="nudgescribe_clients") as db,
        tempfile.TemporaryDirectory(prefix="nudgescribe-clients-") as tmp,
        contextmanager(serve)(Path(tmp) / "data", DATABASE_URL=database_url(db)) as server,
    ):
        yield server


@pytest.fixture
def account(server: Server) -> Account:
    """An account of its own: what schemathesis leaves in one changes nothing here."""
    created = json.loads(server.cli("accounts", "create", "Clients", "--json"))
    token = server.cli("token", "--account-id", created["account_id"], "--user-id", "fuzzer")
    api_code = (server.data_dir / "api_code").read_text().strip()
    return Account(server, api_code, created["account_id"], created["api_key"], token.strip())


def error_body(response: dict[str, Any]) -> tuple[str | None, str | None]:
    """(code, message) of an error answer."""
    content = (response.get("content") or {}).get("$base64")
    try:
        body = json.loads(base64.b64decode(content or ""))
        code, message = body.get("code"), body.get("message")
    except (ValueError, AttributeError):
        return None, None
    return (code if isinstance(code, str) else None), (
        message if isinstance(message, str) else None
    )


def findings(events: Path) -> list[Finding]:
    """Every failed check of the run, from schemathesis's NDJSON event report."""
    found = []
    for line in events.read_text().splitlines():
        scenario = json.loads(line).get("ScenarioFinished")
        if scenario is None:
            continue
        operation = scenario["recorder"]["label"]
        interactions = scenario["recorder"].get("interactions", {})
        for case_id, checks in scenario["recorder"].get("checks", {}).items():
            for check in checks:
                if check["status"] != "failure":
                    continue
                response = (interactions.get(case_id) or {}).get("response") or {}
                found.append(
                    Finding(
                        check["failure_info"]["failure"]["code"],
                        operation,
                        response.get("status_code", 0),
                        *error_body(response),
                    )
                )
    return found


def test_schemathesis_with_every_check_and_phase_finds_nothing_undocumented(
    account: Account, tmp_path: Path
) -> None:
    # Data for the stateful phase to start from: fields a campaign can segment on.
    for name in ("plan", "region"):
        httpx.post(
            account.server.url + "/v1/customer-fields/create",
            json={"name": name, "type": "string"},
            headers={**account.headers(), "authorization": f"Bearer {account.token}"},
        ).raise_for_status()
    # The JWT as schemathesis's own bearer auth: its auth checks then know it is given.
    config = tmp_path / "schemathesis.toml"
    config.write_text(f'[auth.openapi.bearer]\nbearer = "{account.token}"\n')
    events = tmp_path / "events.ndjson"
    headers = [f"{name}: {value}" for name, value in account.headers().items()]

    done = subprocess.run(
        [
            str(BIN / "st"),
            "--config-file",
            str(config),
            "run",
            account.server.url + "/openapi.json",
            *(arg for header in headers for arg in ("-H", header)),
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            SEED,
            "--report",
            "ndjson",
            "--report-ndjson-path",
            str(events),
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=tmp_path,  # its cache of findings goes there
    )

    summary = done.stdout[done.stdout.rfind("SUMMARY") :]
    print(summary)
    found = findings(events)
    print(Counter((f.check, f.code, f.documented()) for f in found))
    assert "Stateful" in summary, done.stdout[-3000:] + done.stderr[-3000:]
    defects = sorted({f for f in found if f.documented() is None}, key=str)
    assert defects == [], [(f, f.message) for f in defects]
    assert done.returncode in (0, 1), done.stderr[-3000:]  # 1: only documented findings


def generated_client(url: str, into: Path) -> ModuleType:
    """The package openapi-python-client writes from the served document, imported."""
    document = into / "openapi.json"
    document.write_bytes(httpx.get(url + "/openapi.json").content)
    package = into / "nudgescribe_client"
    subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(document),
            "--output-path",
            str(package),
            "--meta",
            "none",
        ],
        check=True,
        capture_output=True,
        env={"PATH": f"{BIN}:/usr/bin:/bin"},  # it formats the code with ruff, if found
        timeout=300,
    )
    sys.path.insert(0, str(into))
    try:
        return importlib.import_module("nudgescribe_client")
    finally:
        sys.path.remove(str(into))


def test_a_generated_client_drives_a_whole_campaign_life(account: Account, tmp_path: Path) -> None:
    generated_client(account.server.url, tmp_path)
    from nudgescribe_client import AuthenticatedClient, Client
    from nudgescribe_client.api.authentication import authenticate_v1_auth_authenticate_post
    from nudgescribe_client.api.campaign_messages import (
        publish_v1_campaign_messages_publish_post,
        review_v1_campaign_messages_review_post,
    )
    from nudgescribe_client.api.campaign_reruns import (
        history_v1_campaign_rerun_history_post,
        initiate_v1_campaign_rerun_initiate_post,
        job_v1_campaign_rerun_job_post,
        messages_v1_campaign_rerun_messages_post,
        preview_v1_campaign_rerun_preview_post,
    )
    from nudgescribe_client.api.campaigns import create_v1_campaign_create_post
    from nudgescribe_client.api.customer_groups import create_v1_customer_groups_create_post
    from nudgescribe_client.api.customer_profile_fields import (
        create_v1_customer_fields_create_post,
    )
    from nudgescribe_client.api.customers import upload_v1_customers_upload_post
    from nudgescribe_client.models import (
        AuthenticateRequest,
        CampaignCreate,
        CampaignRef,
        CustomerRow,
        CustomerRowFields,
        CustomersUpload,
        FieldCreate,
        FieldCreateType,
        GroupCreate,
        Initiate,
        JobRef,
        Review,
        ReviewDecision,
        RunMessages,
        TemplateConfig,
    )

    headers: dict[str, Any] = {"x_auth_context": auth_context(account.api_code), "x_ip": "10.1.2.3"}
    issued = authenticate_v1_auth_authenticate_post.sync(
        client=Client(base_url=account.server.url),
        body=AuthenticateRequest(api_key=account.api_key, user_id="generated"),
        **headers,
    )
    client = AuthenticatedClient(base_url=account.server.url, token=issued.data.token)

    def ok(module: ModuleType, body: Any) -> Any:
        answer = module.sync(client=client, body=body, **headers)
        assert hasattr(answer, "data"), answer  # an ErrorBody has none
        return answer.data

    def completed(job_uid: Any) -> None:
        for _ in range(600):
            job = ok(job_v1_campaign_rerun_job_post, JobRef(job_uid=job_uid))
            if job.phase == "Completed":
                return
            time.sleep(0.1)
        raise AssertionError(f"job {job_uid} did not complete: {job}")

    def group(name: str, rows: list[tuple[str, str, str]]) -> Any:
        upload = CustomersUpload(
            customers=[
                CustomerRow(
                    external_id=external_id,
                    fields=CustomerRowFields.from_dict({"tier": tier, "area": area}),
                )
                for external_id, tier, area in rows
            ]
        )
        assert ok(upload_v1_customers_upload_post, upload).accepted == len(rows)
        body = GroupCreate(name=name, external_ids=[row[0] for row in rows])
        return ok(create_v1_customer_groups_create_post, body).customer_group_id

    for name in ("tier", "area"):
        ok(
            create_v1_customer_fields_create_post,
            FieldCreate(name=name, type_=FieldCreateType.STRING),
        )
    first = group("first", [("g1", "gold", "EU"), ("s1", "silver", "US")])
    started = ok(
        create_v1_campaign_create_post,
        CampaignCreate(
            name="Generated",
            customer_group_id=first,
            segment_variables=["tier", "area"],
            ai_config=TemplateConfig(template="Hi {{tier}} member in {{area}}!"),
        ),
    )
    campaign = started.campaign_id
    completed(started.job_uid)
    ok(
        review_v1_campaign_messages_review_post,
        Review(campaign_id=campaign, decision=ReviewDecision.APPROVE, all_=True),
    )
    ok(publish_v1_campaign_messages_publish_post, CampaignRef(campaign_id=campaign))

    second = group("second", [("g2", "gold", "EU"), ("b2", "bronze", "APAC")])
    preview = ok(
        preview_v1_campaign_rerun_preview_post,
        Initiate(campaign_id=campaign, new_customer_group_id=second),
    )
    counts = (
        preview.comparison.matched.count,
        preview.comparison.new.count,
        preview.comparison.orphaned.count,
    )
    assert counts == (1, 1, 1)
    rerun = ok(
        initiate_v1_campaign_rerun_initiate_post,
        Initiate(campaign_id=campaign, new_customer_group_id=second),
    )
    completed(rerun.job_uid)

    history = ok(history_v1_campaign_rerun_history_post, CampaignRef(campaign_id=campaign))
    assert [run.run_number for run in history] == [2, 1]
    assert history[0].initiated_from_ip == "10.1.2.3"
    assert (history[0].comparison_summary.matched, history[0].comparison_summary.new) == (1, 1)
    messages = ok(messages_v1_campaign_rerun_messages_post, RunMessages(campaign_id=campaign))
    assert sorted(m.segment.to_dict()["tier"] for m in messages) == ["bronze", "gold"]
