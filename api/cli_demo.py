"""``nudgescribe demo``: a whole campaign life, start to rerun, on the configured database
(the embedded one unless DATABASE_URL is set), then its run history as a table.

It drives the same application services the API calls (accounts, fields, customers,
groups, campaign commands), runs the processor and the projections synchronously, and
reads the history from the read models, as ``POST /v1/campaign/rerun/history`` would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from rich.console import Console
from rich.table import Table

from api.cli_common import console, load_settings, run_migrations
from application.actors import DEMO

if TYPE_CHECKING:
    from application.metadata import CommandContext

TEMPLATE = {"provider": "template", "template": "Hi {{plan}} member in {{region}}!"}
SPRING = [("gold", "EU"), ("silver", "EU"), ("gold", "US")]
SUMMER = [("gold", "EU"), ("silver", "EU"), ("silver", "US")]  # gold/US out, silver/US in


def demo() -> None:
    """Run a whole campaign life (create, process, review, publish, rerun) and print it."""
    from api.container import build_container, build_processor

    settings, _ = load_settings()
    run_migrations(settings)
    container = build_container(settings)
    processor = build_processor(container)
    out = Console(soft_wrap=True)
    if not out.is_terminal:  # piped or captured: wide enough for the tables
        out = Console(soft_wrap=True, width=120)
    try:
        account_id = container.accounts.create("Demo company").account_id
        commands = container.commands
        for name in ("plan", "region"):
            container.fields.create(account_id, name, "string", False)
        spring = _group(container, account_id, "Spring audience", SPRING)
        started = commands.create(
            context=_request(account_id),
            account_id=account_id,
            name="Demo campaign",
            customer_group_id=spring,
            segment_variables=["plan", "region"],
            ai_config=TEMPLATE,
        )
        campaign_id = started.campaign_id
        console.print(f"campaign {campaign_id}: run 1 for {len(SPRING)} segments")
        _process_review_publish(container, processor, account_id, campaign_id)
        summer = _group(container, account_id, "Summer audience", SUMMER)
        rerun = commands.initiate_rerun(
            context=_request(account_id),
            account_id=account_id,
            campaign_id=campaign_id,
            new_customer_group_id=summer,
        )
        console.print(
            f"run {rerun.run_number}: {len(rerun.comparison.matched)} matched, "
            f"{len(rerun.comparison.new)} new, {len(rerun.comparison.orphaned)} orphaned"
        )
        _process_review_publish(container, processor, account_id, campaign_id)
        container.runner.catch_up()
        out.print(_history_table(container, account_id, campaign_id))
        out.print(_messages_table(container, account_id, campaign_id))
        out.print(f"account_id {account_id}  campaign_id {campaign_id}", highlight=False)
    finally:
        processor.stop()
        container.close()


def _request(account_id: UUID) -> CommandContext:
    """Each command as its own request of user "demo": who, where, a correlation id."""
    from application.metadata import CommandContext

    return CommandContext.for_request(user_id=DEMO, account_id=account_id, ip="127.0.0.1")


def _group(container: Any, account_id: UUID, name: str, segments: list[tuple[str, str]]) -> UUID:
    prefix = name.split()[0].lower()
    rows = [
        {"external_id": f"{prefix}-{plan}-{region}-{i}", "fields": {"plan": plan, "region": region}}
        for plan, region in segments
        for i in range(3)
    ]
    container.customers.upload(account_id, rows)
    group = container.groups.create(account_id, name, [r["external_id"] for r in rows])
    return UUID(str(group.customer_group_id))


def _process_review_publish(
    container: Any, processor: Any, account_id: UUID, campaign_id: UUID
) -> None:
    processor.run_until_idle()
    container.commands.review(
        context=_request(account_id),
        account_id=account_id,
        campaign_id=campaign_id,
        message_ids=None,
        decision="approve",
    )
    container.commands.publish(
        context=_request(account_id), account_id=account_id, campaign_id=campaign_id
    )


def _history_table(container: Any, account_id: UUID, campaign_id: UUID) -> Table:
    table = Table(title="Run history (POST /v1/campaign/rerun/history)")
    for column in ("run", "group", "segments", "status", "matched/new/orphaned"):
        table.add_column(column)
    for column in ("by", "started", "completed", "current"):
        table.add_column(column)
    for row in container.read_models.run_history(account_id, campaign_id) or []:
        summary = row.comparison_summary
        table.add_row(
            str(row.run_number),
            row.customer_group_name,
            str(row.segment_count),
            row.status,
            f"{summary['matched']}/{summary['new']}/{summary['orphaned']}",
            row.initiated_by,
            f"{row.started_at:%H:%M:%S}",
            f"{row.completed_at:%H:%M:%S}" if row.completed_at else "",
            "yes" if row.is_current else "",
        )
    return table


def _messages_table(container: Any, account_id: UUID, campaign_id: UUID) -> Table:
    table = Table(title="Messages of every run (POST /v1/campaign/rerun/messages)")
    for column in ("run", "segment", "origin", "status", "archived", "content"):
        table.add_column(column)
    history = container.read_models.run_history(account_id, campaign_id) or []
    for run_number in sorted(row.run_number for row in history):
        found = container.read_models.run_messages(
            account_id,
            campaign_id,
            run_number=run_number,
            include_archived=True,
            page=1,
            page_size=100,
        )
        for m in found.items if found else []:
            table.add_row(
                str(m.run_number),
                ", ".join(f"{k}={v}" for k, v in m.segment.items()),
                m.origin,
                m.status,
                m.archive_reason or "",
                m.content,
            )
    return table
