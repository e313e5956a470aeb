"""The rows of a campaign the broker holds: a window of them, handed out from the plan in the
journal, one more each time a row ends (``top_up``), so the broker holds about a window whatever
the campaign's size."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from celery import Celery

from twilio_component.campaign import FINAL
from twilio_component.journal import Journal
from twilio_component.journal.plans import PlanRow

__all__ = ["TASK_NAME", "WINDOW", "enqueue", "top_up", "until"]

TASK_NAME = "twilio_component.run_step"
#: Rows of one campaign in the broker at most, unless told (topped up as rows finish).
WINDOW = 1000


def top_up(
    app: Celery,
    journal: Journal,
    campaign_id: str,
    count: int,
    noted: Mapping[str, Any] | None = None,
) -> int:
    """Hand the broker up to ``count`` more rows of the plan that are not done; how many."""
    noted = noted if noted is not None else journal.noted(f"campaign/{campaign_id}") or {}
    enqueued = 0
    while enqueued < count:
        rows = journal.plans.feed(campaign_id, count - enqueued)
        if not rows:
            break
        enqueued += enqueue(app, campaign_id, noted, rows)
    return enqueued


def until(rows: Iterable[PlanRow], position: int) -> Iterable[PlanRow]:
    """The rows before ``position`` (the plan's rows are in order)."""
    for row in rows:
        if row.position >= position:
            return
        yield row


def enqueue(
    app: Celery, campaign_id: str, noted: Mapping[str, Any], rows: Iterable[PlanRow]
) -> int:
    """Send each row not done to the broker as a task of the campaign; how many."""
    count = 0
    step_type = noted.get("type")
    with app.producer_or_acquire() as producer:
        for row in rows:
            if row.state in FINAL:
                continue
            step = {"type": step_type, "parameters": row.parameters}
            app.send_task(
                TASK_NAME,
                kwargs={"step": step, "key": row.key, "pace": row.pace, "campaign": campaign_id},
                producer=producer,
            )
            count += 1
    return count
