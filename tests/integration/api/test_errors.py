"""Every error the API answers, with its exact status, message and body shape."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import Container
from application.content.accounts import Accounts
from application.settings import Settings
from application.store import IntegrityError
from tests.api_client import Api
from tests.dbserver import throwaway_database
from tests.fakes.processes import database_url

pytestmark = pytest.mark.integration

INITIATE = "/v1/campaign/rerun/initiate"


def error(response, status: int, message: str) -> None:  # type: ignore[no-untyped-def]
    assert (response.status_code, response.json()["message"]) == (status, message), response.text
    assert set(response.json()) == {"message", "code"}


def container_of(api: Api) -> Container:
    container: Container = api.http.app.state.container  # type: ignore[attr-defined]
    return container


@pytest.fixture
def published(api: Api) -> tuple[str, str]:
    api.define_fields("plan", "region")
    return api.published_campaign("e")


# ------------------------------------------------------------------ 400
def test_initiate_on_unpublished_campaign_is_400(api: Api) -> None:
    api.define_fields("plan", "region")
    group = api.group("g", [{"external_id": "x", "fields": {"plan": "a", "region": "b"}}])
    campaign_id = str(api.create_campaign(group)["campaign_id"])

    response = api.post(INITIATE, {"campaign_id": campaign_id, "new_customer_group_id": group})

    error(response, 400, "Only Published campaigns can be rerun")


def test_initiate_with_an_unpublished_current_message_is_400(
    api: Api, published: tuple[str, str]
) -> None:
    # A live campaign holding a draft of one of its published messages.
    campaign_id, group = published
    run = api.ok("/v1/campaign/rerun/messages", {"campaign_id": campaign_id})["data"]
    api.ok(
        "/v1/campaign/messages/edit",
        {"campaign_id": campaign_id, "message_id": run[0]["message_id"], "content": "Draft"},
    )

    response = api.post(INITIATE, {"campaign_id": campaign_id, "new_customer_group_id": group})

    error(response, 400, "All campaign messages must be published before initiating a rerun")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"campaign_id": "{c}", "run_number": "2"}, "run_number"),
        ({"campaign_id": "{c}", "run_number": 0}, "run_number"),
        ({"campaign_id": "{c}", "page_size": 501}, "page_size"),
        ({"campaign_id": "{c}", "page": 0}, "page"),
        ({"campaign_id": "{c}", "include_archived": "yes"}, "include_archived"),
    ],
)
def test_wrong_type_or_bad_value_is_400_naming_the_field(
    api: Api, published: tuple[str, str], body: dict[str, object], field: str
) -> None:
    sent = {k: (published[0] if v == "{c}" else v) for k, v in body.items()}
    response = api.post("/v1/campaign/rerun/messages", sent)
    assert response.status_code == 400
    assert field in response.json()["message"]


def test_bad_decision_is_400_naming_the_field(api: Api, published: tuple[str, str]) -> None:
    body = {"campaign_id": published[0], "all": True, "decision": "maybe"}
    response = api.post("/v1/campaign/messages/review", body)
    assert response.status_code == 400
    assert "decision" in response.json()["message"]


@pytest.mark.parametrize("raw", [b"{not json", b'{"campaign_id": ', b"[1, 2]", b'"text"'])
def test_body_that_is_not_a_json_object_is_400(api: Api, raw: bytes) -> None:
    headers = {**api.headers(), "content-type": "application/json"}
    response = api.http.post("/v1/campaign/rerun/history", content=raw, headers=headers)
    assert response.status_code == 400
    assert "JSON" in response.json()["message"]


# ------------------------------------------------------------------ 401
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"campaign_id": "{c}"},
        {"new_customer_group_id": "{g}"},
        {"campaign_id": None, "new_customer_group_id": "{g}"},
        {"campaign_id": "{c}", "new_customer_group_id": None},
        {"campaign_id": "not-a-uuid"},
    ],
)
def test_missing_or_null_required_field_is_401(
    api: Api, published: tuple[str, str], body: dict[str, object]
) -> None:
    values = {"{c}": published[0], "{g}": published[1]}
    sent = {k: values.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    error(api.post(INITIATE, sent), 401, "Missing required fields")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/campaign/rerun/history", {}),
        ("/v1/campaign/rerun/messages", {"page": 1}),
        ("/v1/campaign/messages/review", {"campaign_id": "{c}", "decision": "approve"}),
        ("/v1/campaign/create", {"name": "x"}),
        ("/v1/customer-fields/create", {"name": "x"}),
        ("/v1/customer-groups/create", {"name": "x"}),
        ("/v1/customers/upload", {}),
        ("/v1/campaign/rerun/job", {"job_uid": None}),
    ],
)
def test_missing_fields_are_401_on_every_endpoint(
    api: Api, published: tuple[str, str], path: str, body: dict[str, object]
) -> None:
    sent = {k: published[0] if v == "{c}" else v for k, v in body.items()}
    error(api.post(path, sent), 401, "Missing required fields")


# ------------------------------------------------------------------ 404
@pytest.mark.parametrize("campaign_id", [str(uuid4()), "not-a-uuid", "", 42])
def test_unknown_or_malformed_campaign_is_404(
    api: Api, published: tuple[str, str], campaign_id: object
) -> None:
    for path in ("/v1/campaign/rerun/history", "/v1/campaign/rerun/messages", "/v1/campaign/get"):
        error(api.post(path, {"campaign_id": campaign_id}), 404, "Campaign not found")
    body = {"campaign_id": campaign_id, "new_customer_group_id": published[1]}
    error(api.post(INITIATE, body), 404, "Campaign not found")


@pytest.mark.parametrize("group_id", [str(uuid4()), "not-a-uuid"])
def test_unknown_or_malformed_group_is_404(
    api: Api, published: tuple[str, str], group_id: str
) -> None:
    body = {"campaign_id": published[0], "new_customer_group_id": group_id}
    error(api.post(INITIATE, body), 404, "Customer group not found")


def test_unknown_run_is_404(api: Api, published: tuple[str, str]) -> None:
    body = {"campaign_id": published[0], "run_number": 9}
    error(api.post("/v1/campaign/rerun/messages", body), 404, "Run not found")


def test_unknown_job_is_404(api: Api) -> None:
    error(api.post("/v1/campaign/rerun/job", {"job_uid": str(uuid4())}), 404, "Job not found")


# ------------------------------------------------------------------ 409
def test_conflict_that_survives_retries_is_409(
    api: Api, published: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = container_of(api).store
    original = store.save_campaign
    target = UUID(published[0])

    def always_conflicts(*campaigns, **kwargs):  # type: ignore[no-untyped-def]
        if any(c.id == target for c in campaigns):
            raise IntegrityError("another writer saved first")
        return original(*campaigns, **kwargs)

    monkeypatch.setattr(store, "save_campaign", always_conflicts)
    body = {"campaign_id": published[0], "new_customer_group_id": published[1]}

    error(api.post(INITIATE, body), 409, "Campaign was modified concurrently, retry")


def test_concurrent_initiates_start_exactly_one_run(api: Api, published: tuple[str, str]) -> None:
    body = {"campaign_id": published[0], "new_customer_group_id": published[1]}
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def initiate() -> None:
        barrier.wait()
        statuses.append(api.post(INITIATE, body).status_code)

    threads = [threading.Thread(target=initiate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses)[0] == 200
    assert sorted(statuses)[1] in (400, 409)
    history = api.ok("/v1/campaign/rerun/history", {"campaign_id": published[0]})["data"]
    assert [h["run_number"] for h in history] == [2, 1]


# ------------------------------------------------------------------ 413, 415
def test_body_over_one_mebibyte_is_413(api: Api) -> None:
    padding = "x" * (1 << 20)
    response = api.post("/v1/campaign/rerun/history", {"campaign_id": str(uuid4()), "pad": padding})
    assert response.status_code == 413


def test_upload_may_be_larger_but_not_over_32_mebibytes(api: Api) -> None:
    api.define_fields("plan")
    rows = [{"external_id": f"big-{i}", "fields": {"plan": "p" * 100}} for i in range(12_000)]
    assert api.post("/v1/customers/upload", {"customers": rows}).status_code == 200
    huge = b'{"customers": [' + b" " * (33 << 20) + b"]}"
    headers = {**api.headers(), "content-type": "application/json"}
    assert api.http.post("/v1/customers/upload", content=huge, headers=headers).status_code == 413


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_body_without_json_content_type_is_415(api: Api, content_type: str | None) -> None:
    headers = api.headers()
    if content_type:
        headers["content-type"] = content_type
    raw = b'{"campaign_id": "' + str(uuid4()).encode() + b'"}'
    response = api.http.post("/v1/campaign/rerun/history", content=raw, headers=headers)
    assert response.status_code == 415


# ------------------------------------------------------------------ 500, 503
def test_unexpected_failure_is_500_without_details_and_logged_with_request_id(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("SELECT secret FROM somewhere")

    reads = api.http.app.state.reads  # type: ignore[attr-defined]
    monkeypatch.setattr(reads, "run_history", broken)

    with caplog.at_level(logging.ERROR, logger="nudgescribe.api"):
        response = api.post("/v1/campaign/rerun/history", {"campaign_id": str(uuid4())})

    error(response, 500, "Internal server error")
    assert "SELECT" not in response.text
    request_id = response.headers["x-request-id"]
    assert any(request_id in record.getMessage() for record in caplog.records)


@pytest.fixture
def doomed_app(pg_server_url: str, settings: Settings) -> Iterator[tuple[TestClient, Api]]:
    """An app on a database of its own, which the test then drops under it."""
    from application.database import open_pool
    from application.migrate import migrate
    from projections.schema import READ_MODEL_DDL

    with throwaway_database(pg_server_url, prefix="nudgescribe_doomed") as info:
        own_pool = open_pool(info, max_size=2)
        migrate(info, own_pool, extra_ddl=READ_MODEL_DDL)
        account = Accounts(own_pool).create("Doomed")
        own_pool.close()
        doomed = settings.model_copy(update={"database_url": database_url(info)})
        with TestClient(create_app(doomed)) as client:
            assert doomed.jwt_secret is not None
            assert doomed.api_code is not None
            api = Api(
                client,
                doomed.api_code.get_secret_value(),
                account.account_id,
                doomed.jwt_secret.get_secret_value(),
            )
            yield client, api
            client.app.state.container.pool.close()  # type: ignore[attr-defined]


def test_unreachable_database_is_503(
    doomed_app: tuple[TestClient, Api], pg_server_url: str
) -> None:
    import psycopg

    from application.database import ConnectionInfo

    client, api = doomed_app
    assert api.post("/v1/campaign/rerun/history", {"campaign_id": str(uuid4())}).status_code == 404
    dbname = client.app.state.container.connection.dbname  # type: ignore[attr-defined]
    admin = ConnectionInfo.from_url(pg_server_url)
    with psycopg.connect(admin.conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{dbname}" WITH (FORCE)')

    response = api.post("/v1/campaign/rerun/history", {"campaign_id": str(uuid4())})

    error(response, 503, "Service unavailable")
    assert client.get("/ready").status_code == 503
