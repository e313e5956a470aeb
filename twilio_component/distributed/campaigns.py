"""Campaigns on workers: the plan written to the journal, its rows enqueued, resumed, followed.

The journal is the truth and the broker only a pipe. ``submit`` writes every row's step (its
key, its pace) to the journal before the first task is enqueued, so ``resume`` can re-enqueue,
from the journal alone, every row not yet sent or refused: after a lost broker, a killed
worker, or for no reason at all (a row enqueued twice is still sent once).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from celery import Celery

from twilio_component.campaign import FINAL, Campaign, status
from twilio_component.campaign import Planned as Step
from twilio_component.distributed.tasks import TASK_NAME, Pace, pace_of
from twilio_component.journal import Journal
from twilio_component.pacing import Pacer

__all__ = ["FINAL", "Planned", "follow", "plan", "plan_name", "resume", "submit"]

#: ``follow`` gives up after this many seconds without any row changing.
IDLE_LIMIT = 120.0

Planned = Mapping[str, Any]
"""One planned row: ``{"key": …, "step": {...}, "pace": {...}}``."""


def plan_name(campaign_id: str) -> str:
    """The journal note holding a campaign's planned rows."""
    return f"campaign-plan/{campaign_id}"


def plan(
    campaign: Campaign, steps: Sequence[Step], *, mps: float | None = None, cap: int = 0
) -> list[Planned]:
    """Each checked row as the workers get it: its key, its step and its pace (the sender,
    its cost and rate from the step's component, ``mps`` when given; ``cap`` requests in
    flight across every worker, 0 for none)."""
    traffic = campaign.traffic
    rates = Pacer(mps, rate=traffic.rate)
    rows: list[Planned] = []
    for _, step in steps:
        parameters = step["parameters"]
        sender = traffic.sender(parameters)
        pace = pace_of(sender, traffic.cost(parameters), rates.configured_mps(sender), cap)
        rows.append(
            {"key": campaign.key(traffic.recipient(parameters)), "step": step, "pace": pace}
        )
    return rows


def submit(app: Celery, journal: Journal, campaign_id: str, rows: Sequence[Planned]) -> int:
    """Write the plan to the journal, then enqueue every row not done yet; how many."""
    name = f"campaign/{campaign_id}"
    journal.note(name, {**(journal.noted(name) or {}), "recipients": len(rows)})
    journal.note(plan_name(campaign_id), {"rows": list(rows)})
    return _enqueue(app, journal, campaign_id, rows)


def resume(app: Celery, journal: Journal, campaign_id: str) -> int | None:
    """Enqueue again every row the journal says is not done; how many (None: no such plan)."""
    plan = journal.noted(plan_name(campaign_id))
    if plan is None:
        return None
    return _enqueue(app, journal, campaign_id, plan["rows"])


def _enqueue(app: Celery, journal: Journal, campaign_id: str, rows: Iterable[Planned]) -> int:
    done = {
        record.key
        for record in journal.records(f"campaign/{campaign_id}/")
        if record.state in FINAL
    }
    count = 0
    with app.producer_or_acquire() as producer:
        for row in rows:
            if row["key"] in done:
                continue
            pace: Pace | None = row.get("pace")
            app.send_task(
                TASK_NAME,
                kwargs={"step": row["step"], "key": row["key"], "pace": pace},
                producer=producer,
            )
            count += 1
    return count


def follow(
    journal: Journal,
    campaign_id: str,
    progress: Callable[[Mapping[str, Any], float, float], None],
    *,
    poll: float = 0.1,
    idle_limit: float = IDLE_LIMIT,
    sleep: Callable[[float], object] = time.sleep,
) -> dict[str, Any]:
    """Watch the journal until every row is sent, refused or held, or nothing changed for
    ``idle_limit`` seconds; the campaign's counts at the end. ``progress`` gets the counts,
    the seconds since the start and the seconds since the counts last changed."""
    started = time.monotonic()
    last: dict[str, Any] | None = None
    changed = started
    while True:
        try:
            counts = status(journal, campaign_id) or {"total": 0}
        except journal.transient:  # the journal restarting: the workers wait for it too
            sleep(poll)
            continue
        now = time.monotonic()
        if counts != last:
            last, changed = counts, now
        progress(counts, now - started, now - changed)
        final = sum(counts.get(state, 0) for state in FINAL)
        if final >= counts["total"] or now - changed >= idle_limit:
            return counts
        sleep(poll)
