"""Uploads answered in bounded size: the first rejected rows and a count of them all."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from application.content.customers import REJECTED_LISTED
from tests.api_client import Api

pytestmark = pytest.mark.integration

UPLOAD = "/v1/customers/upload"


def test_an_upload_lists_the_first_rejected_rows_and_counts_them_all(api: Api) -> None:
    api.define_fields("plan")
    rows: list[Any] = []
    for i in range(3_000):
        rows.append({"external_id": f"bad-{i}", "fields": {"shoe": i}})
        rows.append({"external_id": f"ok-{i}", "fields": {"plan": "gold"}})

    result = api.upload(rows)

    assert result["accepted"] == 3_000
    assert result["rejected_count"] == 3_000
    assert [r["index"] for r in result["rejected"]] == list(range(0, 2 * REJECTED_LISTED, 2))
    assert result["rejected"][0] == {
        "index": 0,
        "external_id": "bad-0",
        "errors": ["field 'shoe' is not defined for this account"],
    }
    assert api.ok("/v1/customers/pages", {"page_size": 500})["data"]["total"] == 3_000


def test_two_million_rows_of_zero_answer_a_small_body(api: Api) -> None:
    body = b'{"customers": [' + b"0," * 1_999_999 + b'0], "validate_only": true}'
    assert len(body) < 5_000_000

    response = api.post(UPLOAD, content=body, headers={"content-type": "application/json"})

    assert response.status_code == 200, response.text[:500]
    assert len(response.content) < 200_000
    answer = response.json()["data"]
    assert (answer["accepted"], answer["rejected_count"]) == (0, 2_000_000)
    assert len(answer["rejected"]) == REJECTED_LISTED
    assert answer["rejected"][-1] == {
        "index": REJECTED_LISTED - 1,
        "external_id": None,
        "errors": ["row must be an object with external_id and fields"],
    }


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b'{"customers": [{"external_id": "a"}], "validate_only": "yes"}', 400,
         "Invalid value for validate_only: Input should be a valid boolean"),
        (b'{"validate_only": true, "customers": {"external_id": "a"}}', 400,
         "Invalid value for customers: Input should be a valid array"),
        (b'{"customers": [{"external_id": "a\\u0000"}], "validate_only": 1}', 400,
         "Invalid value for validate_only: Input should be a valid boolean"),
        (b'{"customers": [{}, {"external_id": "a\\u0000"}]}', 400,
         "Invalid value for customers.1.external_id: NUL characters are not allowed"),
        (b'{"customers": [{}], "note": ["\\u0000"], "validate_only": "\\u0000"}', 400,
         "Invalid value for validate_only: Input should be a valid boolean"),
        (b'{"customers": [{}], "validate_only": true} x', 400, "Request body is not valid JSON"),
        (b'{"customers": [{}, NaN]}', 400, "Request body is not valid JSON"),
        (b'{"customers": [1e400]}', 400, "Request body is not valid JSON"),
        (b'{"customers": [1,]}', 400, "Request body is not valid JSON"),
        (b'[{"customers": []}]', 400, "Request body must be a JSON object"),
        (b'{"validate_only": true}', 401, "Missing required fields"),
    ],
)  # fmt: skip
def test_a_streamed_upload_keeps_the_rules_and_precedence_of_every_body(
    api: Api, body: bytes, status: int, message: str
) -> None:
    response = api.post(UPLOAD, content=body, headers={"content-type": "application/json"})

    assert (response.status_code, response.json()["message"]) == (status, message)
    assert api.ok("/v1/customers/pages", {"page_size": 10})["data"]["total"] == 0


def test_a_repeated_customers_key_counts_its_last_value_only(api: Api) -> None:
    api.define_fields("plan")
    first = orjson.dumps([{"external_id": "first", "fields": {}}])
    last = orjson.dumps([{"external_id": "last", "fields": {}}])
    body = b'{"customers": ' + first + b', "customers": ' + last + b"}"

    response = api.post(UPLOAD, content=body, headers={"content-type": "application/json"})

    assert response.json()["data"]["accepted"] == 1
    listed = api.ok("/v1/customers/list", {})["data"]
    assert [c["external_id"] for c in listed] == ["last"]


def test_an_unknown_key_of_a_row_is_ignored_whatever_it_holds(api: Api) -> None:
    body = {"customers": [{"external_id": "a", "note": "\x00", "x" * 20_000: 1}]}

    result = api.ok(UPLOAD, {**body, "validate_only": True})["data"]

    assert (result["accepted"], result["rejected_count"]) == (1, 0)
