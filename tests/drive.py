"""Drive a run to its end through the aggregate's own processing commands.

Integration tests of the store use this in place of the background processor, so they
exercise exactly the commands the processor calls, without its scheduling.
"""

from __future__ import annotations

from uuid import UUID

from application.store import CampaignStore


def finish_run(
    store: CampaignStore, campaign_id: UUID, content: str = "Hello", refused: int = 0
) -> None:
    """Copy, generate, archive and finalise; the generator refuses the first ``refused``
    pending segments."""
    campaign = store.get_campaign(campaign_id)
    run = campaign.current_run
    assert run is not None
    campaign.record_copied_messages(run.number, campaign.pending_copies())
    pending = campaign.pending_generations()
    for key in pending[:refused]:
        campaign.record_generation_failure(run.number, key, f"refused {key}")
    for key in pending[refused:]:
        campaign.record_generated_message(
            run.number, key, f"{content} {key}", generator="template", model=None, prompt_digest="t"
        )
    campaign.archive_orphans(run.number)
    campaign.finalise_run(run.number)
    store.save_campaign(campaign)


def approve_and_publish(store: CampaignStore, campaign_id: UUID) -> None:
    campaign = store.get_campaign(campaign_id)
    campaign.review(message_ids=None, decision="approve", reviewed_by="reviewer")
    campaign.publish(published_by="publisher")
    store.save_campaign(campaign)
