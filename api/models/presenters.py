"""The API's response objects, built from application results and read-model rows.

History and message rows already have exactly the response objects' fields and are
serialised as they are; the objects below are reshaped (the campaign row carries
account_id, a job row nests its progress, a run start carries whole segment maps).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

from application.content.customer_groups import GroupSummary
from application.content.customers import UploadResult
from application.results import RerunPreview, RunStartedResult
from domain.segments import Segment
from domain.statuses import MessageStatus
from projections.rows import CampaignRow, JobRow

COMPARISON_LIMIT = 1000


def segment(s: Segment) -> dict[str, Any]:
    return {"segment_key": s.key, "segment": s.values, "customer_count": s.customer_count}


def segment_list(keys: list[str], source: Mapping[str, Segment]) -> dict[str, Any]:
    return {
        "count": len(keys),
        "segments": [segment(source[k]) for k in keys[:COMPARISON_LIMIT]],
        "truncated": len(keys) > COMPARISON_LIMIT,
    }


def rerun_preview(result: RunStartedResult | RerunPreview) -> dict[str, Any]:
    """The next run and its comparison: what preview answers, and initiate answers with
    its job."""
    comparison = result.comparison
    return {
        "campaign_id": result.campaign_id,
        "customer_group_id": result.customer_group_id,
        "run_number": result.run_number,
        "previous_run_number": result.previous_run_number,
        "comparison": {
            "matched": segment_list(comparison.matched, result.segments),
            "new": segment_list(comparison.new, result.segments),
            "orphaned": segment_list(comparison.orphaned, result.previous_segments),
        },
        "expected_campaign_status": result.expected_campaign_status,
    }


def rerun(result: RunStartedResult) -> dict[str, Any]:
    return {
        **rerun_preview(result),
        "job_uid": result.job_uid,
        "status": "Processing",
        "started_at": result.started_at,
    }


def message_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """Every message status, zero when no message is in it (the read model holds only the
    statuses it has counted)."""
    return {str(s): counts.get(str(s), 0) for s in MessageStatus}


def campaign(row: CampaignRow) -> dict[str, Any]:
    shown = asdict(row)
    del shown["account_id"]
    shown["message_counts"] = message_counts(row.message_counts)
    return shown


def job(row: JobRow) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "job_uid": row.job_uid,
        "campaign_id": row.campaign_id,
        "run_number": row.run_number,
        "phase": row.phase,
        "progress": {
            "copied": row.copied,
            "generated": row.generated,
            "archived": row.archived,
            "failed": row.failed,
            "total": row.total,
        },
    }
    if row.error is not None:
        shown["error"] = row.error
    return shown


def upload(result: UploadResult) -> dict[str, Any]:
    return {
        "accepted": result.accepted,
        "rejected_count": result.rejected_count,
        "rejected": [asdict(r) for r in result.rejected],
    }


def groups(items: Iterable[GroupSummary]) -> list[dict[str, Any]]:
    return [asdict(g) for g in items]
