"""An authenticated HTTP client of one account, and the helpers the HTTP tests share (over
the in-process TestClient or a real server alike)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx

from api.tokens import issue_token

TEMPLATE = {"provider": "template", "template": "Hi {{plan}} member in {{region}}!"}


def auth_context(api_code: str, api_access: bool = True) -> str:
    return json.dumps({"api_access": api_access, "api_code": api_code})


@dataclass
class Api:
    """Requests as one user of one account, with every header the API requires."""

    http: httpx.Client
    api_code: str
    account_id: UUID
    secret: str
    user_id: str = "user-1"
    ip: str = "10.0.0.7"
    api_key: str = ""
    extra_headers: dict[str, str] = field(default_factory=dict)

    def token(self, **overrides: Any) -> str:
        return issue_token(
            self.secret, account_id=self.account_id, user_id=self.user_id, **overrides
        )

    def headers(self) -> dict[str, str]:
        return {
            "authorization": f"Bearer {self.token()}",
            "x-auth-context": auth_context(self.api_code),
            "x-ip": self.ip,
            **self.extra_headers,
        }

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        return self.http.post(
            path, json=body if body is not None else {}, headers=headers, **kwargs
        )

    def ok(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        response = self.post(path, body, **kwargs)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    # ------------------------------------------------------------------ the life
    def define_fields(self, *names: str) -> None:
        for name in names:
            self.ok("/v1/customer-fields/create", {"name": name, "type": "string"})

    def upload(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = self.ok("/v1/customers/upload", {"customers": rows})["data"]
        return result

    def group(self, name: str, rows: list[dict[str, Any]]) -> str:
        """Upload ``rows`` ({external_id, plan, region}) and make a group of exactly them."""
        self.upload([{"external_id": r["external_id"], "fields": r["fields"]} for r in rows])
        created = self.ok(
            "/v1/customer-groups/create",
            {"name": name, "external_ids": [r["external_id"] for r in rows]},
        )["data"]
        return str(created["customer_group_id"])

    def wait_for_job(self, job_uid: str, timeout: float = 60.0) -> dict[str, Any]:
        return wait_until(
            lambda: self.ok("/v1/campaign/rerun/job", {"job_uid": job_uid})["data"],
            lambda job: job["phase"] in ("Completed", "Failed"),
            timeout,
        )

    def campaign(self, campaign_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.ok("/v1/campaign/get", {"campaign_id": campaign_id})["data"]
        return found

    def create_campaign(self, group_id: str, name: str = "Spring") -> dict[str, Any]:
        created: dict[str, Any] = self.ok(
            "/v1/campaign/create",
            {
                "name": name,
                "customer_group_id": group_id,
                "segment_variables": ["plan", "region"],
                "ai_config": TEMPLATE,
            },
        )["data"]
        self.wait_for_job(str(created["job_uid"]))
        return created

    def approve_and_publish(self, campaign_id: str) -> None:
        self.ok(
            "/v1/campaign/messages/review",
            {"campaign_id": campaign_id, "all": True, "decision": "approve"},
        )
        self.ok("/v1/campaign/messages/publish", {"campaign_id": campaign_id})
        wait_until(lambda: self.campaign(campaign_id)["status"], lambda s: s == "Published", 30.0)

    def published_campaign(self, prefix: str) -> tuple[str, str]:
        """A campaign whose run 1 is generated, approved and published: (campaign, group)."""
        group_id = self.group(f"{prefix}-1", customers(prefix, [("gold", "EU"), ("silver", "EU")]))
        campaign_id = str(self.create_campaign(group_id)["campaign_id"])
        self.approve_and_publish(campaign_id)
        return campaign_id, group_id


def customers(prefix: str, segments: list[tuple[str, str]], each: int = 2) -> list[dict[str, Any]]:
    return [
        {"external_id": f"{prefix}-{plan}-{region}-{i}", "fields": {"plan": plan, "region": region}}
        for plan, region in segments
        for i in range(each)
    ]


def wait_until(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float) -> Any:
    """Poll until ``done``; the deadline only bounds a hang, it asserts no speed."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)
