"""Campaigns on workers: the plan written to the journal as rows, a window of them in the
broker, topped up as rows finish, resumed, followed.

The journal is the truth and the broker only a pipe. ``submit`` writes every row's step (its
key, its pace) to the journal before the first task is enqueued, then hands the broker a
window of rows (``WINDOW``): each task that finishes a row of the campaign moves the plan's
cursor one row on and enqueues that row (``top_up``), so the broker holds about a window,
whatever the campaign's size. ``resume`` enqueues again, from the journal alone, every row
handed out and not yet sent or refused (after a lost broker, a killed worker, or for no
reason at all: a row enqueued twice is still sent once), then tops the window up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from celery import Celery

from twilio_component.campaign import FINAL, Campaign, Checked, status
from twilio_component.distributed.tasks import Pace, pace_of
from twilio_component.distributed.window import WINDOW, enqueue, top_up, until
from twilio_component.journal import Journal
from twilio_component.pacing import Pacer

__all__ = ["FINAL", "WINDOW", "follow", "pace_for", "resume", "submit", "top_up"]

#: ``follow`` gives up after this many seconds without any row changing.
IDLE_LIMIT = 120.0


def pace_for(
    campaign: Campaign, *, mps: float | None = None, cap: int = 0
) -> Callable[[Mapping[str, Any]], Pace]:
    """Each row's pace as the workers get it: the sender, its cost and rate from the step's
    component, ``mps`` when given; ``cap`` requests in flight across every worker, 0 for
    none."""
    traffic = campaign.traffic
    rates = Pacer(mps, rate=traffic.rate)

    def pace(parameters: Mapping[str, Any]) -> Pace:
        sender = traffic.sender(parameters)
        return pace_of(sender, traffic.cost(parameters), rates.configured_mps(sender), cap)

    return pace


def submit(
    app: Celery,
    campaign: Campaign,
    checked: Checked,
    *,
    mps: float | None = None,
    cap: int = 0,
    window: int = WINDOW,
) -> int:
    """Write the plan to the journal (unless an earlier submit did), then enqueue a window of
    the rows not done yet; how many were enqueued."""
    campaign.store(checked, pace=pace_for(campaign, mps=mps, cap=cap))
    journal = campaign.host.journal
    name = f"campaign/{campaign.id}"
    journal.note(name, {**(journal.noted(name) or {}), "window": window})
    return resume(app, journal, campaign.id) or 0


def resume(app: Celery, journal: Journal, campaign_id: str) -> int | None:
    """Enqueue again every row handed out that the journal says is not done, then top the
    window up; how many (None: no such plan)."""
    plans = journal.plans
    if plans.size(campaign_id) is None:
        return None
    fed = plans.fed(campaign_id)
    noted = journal.noted(f"campaign/{campaign_id}") or {}
    window = int(noted.get("window") or WINDOW)
    again = enqueue(app, campaign_id, noted, until(plans.rows(campaign_id), fed))
    return again + top_up(app, journal, campaign_id, max(0, window - again), noted)


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
    the seconds since the start and the seconds since the counts last changed. Counting a
    large campaign takes a while: it is looked at less often, so that the journal spends at
    most about a tenth of its time on it."""
    started = time.monotonic()
    last: dict[str, Any] | None = None
    changed = started
    while True:
        asked = time.monotonic()
        try:
            counts = status(journal, campaign_id) or {"total": 0}
        except journal.transient:  # the journal restarting: the workers wait for it too
            if last is not None and time.monotonic() - changed >= idle_limit:
                return last
            sleep(poll)
            continue
        now = time.monotonic()
        if counts != last:
            last, changed = counts, now
        progress(counts, now - started, now - changed)
        final = sum(counts.get(state, 0) for state in FINAL)
        if final >= counts["total"] or now - changed >= idle_limit:
            return counts
        sleep(max(poll, 10 * (now - asked)))
