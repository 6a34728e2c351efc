"""``POST /v1/campaign/get`` with ``as_of_run`` or ``as_of``: the campaign as it was then."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, ConfigDict

from api.models.campaigns import CampaignRef
from api.models.common import CAMPAIGN_ID, RunNumber
from api.models.presenters import message_counts
from application.time_travel import CampaignState


class CampaignGet(CampaignRef):
    # The route refuses both at once (400); the schema says so.
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"campaign_id": CAMPAIGN_ID, "as_of_run": 1}],
            "not": {
                "required": ["as_of_run", "as_of"],
                "properties": {"as_of_run": {"type": "integer"}, "as_of": {"type": "string"}},
            },
        }
    )

    as_of_run: RunNumber | None = None
    as_of: AwareDatetime | None = None  # ISO-8601 with a timezone


def campaign_state(state: CampaignState) -> dict[str, Any]:
    """The Campaign Object, from the aggregate's state at that version."""
    return {
        "campaign_id": state.campaign_id,
        "name": state.name,
        "status": state.status,
        "current_run_number": state.current_run_number,
        "customer_group_id": state.customer_group_id,
        "segment_variables": state.segment_variables,
        "ai_config": state.ai_config,
        "message_counts": message_counts(state.message_counts),
        "created_at": state.created_at,
        "updated_at": state.updated_at,
    }
