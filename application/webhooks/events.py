"""The log's events as webhook payloads: ``{"type", "timestamp", "data"}``.

Each payload carries the ids that lead back to the log: the campaign, the run, the run's
``job_uid`` and the event's log ``position``. A run's job uid and comparison counts are
in its ``RunStarted``, read once per run (``RunStarts``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from domain.versions import upcast

RUN_COMPLETED = "run.completed"
RUN_FAILED = "run.failed"
CAMPAIGN_PUBLISHED = "campaign.published"
GENERATION_FAILED = "message.generation_failed"
PING = "ping"
# What an endpoint may subscribe to (every endpoint gets the pings it asks for with /test).
EVENT_TYPES = (RUN_COMPLETED, RUN_FAILED, CAMPAIGN_PUBLISHED, GENERATION_FAILED)

_PREFIX = "domain.campaign:Campaign."
# The log's event names and the webhook event each one is sent as.
WEBHOOK_OF = {
    "RunFinalised": RUN_COMPLETED,
    "RunFailed": RUN_FAILED,
    "CampaignPublished": CAMPAIGN_PUBLISHED,
    "MessageGenerationFailed": GENERATION_FAILED,
    "MessageRegenerationFailed": GENERATION_FAILED,
}
TOPICS = [_PREFIX + name for name in WEBHOOK_OF]
RUN_STARTED_TOPIC = _PREFIX + "RunStarted"


@dataclass(frozen=True)
class RunStart:
    job_uid: str
    matched: int
    new: int
    orphaned: int


def decode(topic: str, state: bytes) -> dict[str, Any]:
    """A stored state in its type's current version, typed values as plain JSON."""
    data = orjson.loads(state)
    data.pop("_meta", None)
    upcast(topic, data)
    return {key: plain(value) for key, value in data.items()}


def plain(value: Any) -> Any:
    """The store's typed encoding (``{"_type_": "uuid_hex", "_data_": ...}``) as text."""
    if type(value) is dict and len(value) == 2 and "_type_" in value:
        if value["_type_"] == "uuid_hex":
            return str(UUID(hex=value["_data_"]))
        return value["_data_"]
    return value


def run_start(topic: str, state: bytes) -> tuple[int, RunStart]:
    data = decode(topic, state)
    start = RunStart(data["job_uid"], len(data["matched"]), len(data["new"]), len(data["orphaned"]))
    return data["run_number"], start


def payload(
    position: int,
    campaign_id: UUID,
    topic: str,
    state: bytes,
    run_start: Callable[[UUID, int], RunStart | None],
) -> tuple[str, bytes]:
    """The webhook event type and the body of one stored event."""
    name = topic.removeprefix(_PREFIX)
    kind = WEBHOOK_OF[name]
    event = decode(topic, state)
    run_number = event["run_number"]
    start = run_start(campaign_id, run_number)
    data: dict[str, Any] = {
        "campaign_id": str(campaign_id),
        "run_number": run_number,
        "job_uid": start.job_uid if start else None,
        "position": position,
    }
    if kind == RUN_COMPLETED:
        data["campaign_status"] = event["campaign_status"]
        data["counts"] = event["counts"]
        if start is not None:
            data["comparison"] = {
                "matched": start.matched, "new": start.new, "orphaned": start.orphaned
            }  # fmt: skip
    elif kind == RUN_FAILED:
        data["campaign_status"] = "Failed"
        data["error"] = event["error"]
    elif kind == CAMPAIGN_PUBLISHED:
        data["campaign_status"] = "Published"
        data["published_by"] = event["published_by"]
    else:
        data["message_id"] = event["message_id"]
        data["segment_key"] = event["segment_key"]
        data["error"] = event["error"]
        data["regeneration"] = name == "MessageRegenerationFailed"
    return kind, body(kind, event["timestamp"], data)


def body(kind: str, timestamp: str | datetime, data: dict[str, Any]) -> bytes:
    if isinstance(timestamp, datetime):
        timestamp = timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z")
    elif timestamp.endswith("+00:00"):
        timestamp = timestamp.removesuffix("+00:00") + "Z"
    return orjson.dumps({"type": kind, "timestamp": timestamp, "data": data})


def ping(webhook_id: UUID, now: datetime) -> bytes:
    return body(PING, now, {"webhook_id": str(webhook_id), "message": "ping from Nudgescribe"})
