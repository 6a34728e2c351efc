"""Concurrent commands on one campaign: taken in turn, the losers refused from its status
without loading the aggregate, never a 5xx."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import uuid4

import httpx
import pytest

from application.campaigns import CampaignCommands
from domain.errors import CampaignIsProcessing, CampaignNotFound, CampaignNotPublished
from tests.api_client import Api

pytestmark = pytest.mark.integration

CONCURRENT = 12


def counting_loads(
    monkeypatch: pytest.MonkeyPatch, commands: CampaignCommands
) -> Callable[[], int]:
    """How often the commands load a campaign from the event store (a spy on the real
    load: the processor, which loads on its own, is not counted)."""
    loads = Counter[str]()
    real = commands.load

    def load(*args: Any, **kwargs: Any) -> Any:
        loads["campaign"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(commands, "load", load)
    return lambda: loads["campaign"]


def all_at_once(send: Callable[[], httpx.Response], times: int) -> list[httpx.Response]:
    with ThreadPoolExecutor(times) as pool:
        return list(pool.map(lambda _: send(), range(times)))


def test_concurrent_initiates_start_one_run_and_refuse_the_rest_from_its_status(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.define_fields("plan", "region")
    campaign_id, group_id = api.published_campaign("race")
    loads = counting_loads(monkeypatch, api.http.app.state.container.commands)  # type: ignore[attr-defined]
    body = {"campaign_id": campaign_id, "new_customer_group_id": group_id}

    answers = all_at_once(lambda: api.post("/v1/campaign/rerun/initiate", body), CONCURRENT)

    statuses = Counter(a.status_code for a in answers)
    assert statuses == {200: 1, 400: CONCURRENT - 1}, [a.text for a in answers]
    assert {a.json()["message"] for a in answers if a.status_code == 400} == {
        "Only Published campaigns can be rerun"
    }
    history = api.ok("/v1/campaign/rerun/history", {"campaign_id": campaign_id})["data"]
    assert [run["run_number"] for run in history] == [2, 1]
    assert loads() == 1  # only the winner loaded the aggregate


@pytest.mark.parametrize(
    ("command", "status", "refusal"),
    [
        ("review", "Processing", CampaignIsProcessing),
        ("edit", "Processing", CampaignIsProcessing),
        ("regenerate", "Processing", CampaignIsProcessing),
        ("publish", "Processing", CampaignIsProcessing),
        ("initiate_rerun", "Ready for review", CampaignNotPublished),
    ],
)
def test_a_refusing_settled_status_decides_before_the_campaign_is_loaded(
    api: Api, command: str, status: str, refusal: type[Exception]
) -> None:
    commands = api.http.app.state.container.commands  # type: ignore[attr-defined]
    arguments: dict[str, Any] = {
        "review": {"message_ids": None, "decision": "approve"},
        "edit": {"message_id": uuid4(), "content": "x"},
        "regenerate": {"message_id": uuid4()},
        "publish": {},
        "initiate_rerun": {"new_customer_group_id": uuid4()},
    }[command]
    run = getattr(commands, command)

    # No such campaign in the event store: a load would answer CampaignNotFound.
    with pytest.raises(refusal):
        run(account_id=api.account_id, campaign_id=uuid4(), settled_status=status, **arguments)
    with pytest.raises(CampaignNotFound):
        run(account_id=api.account_id, campaign_id=uuid4(), settled_status="Published", **arguments)
