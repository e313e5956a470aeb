"""Campaigns: one step sent to every row of a CSV, each recipient at most once, resumable.

Every row is checked before the first send. Each recipient is a keyed step
``campaign/{ID}/{recipient}`` in the journal, so running the same campaign again resumes it:
what was sent or refused is not sent again, what a crash cut short is reconciled first. Who a
step goes to, whose pace it spends and at what default rate come from the step's component
(``Component.traffic``); nothing here knows a vendor.
"""

from __future__ import annotations

from twilio_component.campaign.plan import (
    Campaign,
    Checked,
    Planned,
    Recipients,
    Row,
    campaign_key,
    read_rows,
)
from twilio_component.campaign.progress import PROGRESS_EVERY, plain_progress
from twilio_component.campaign.records import FINAL, report, status
from twilio_component.campaign.runner import DEFAULT_CONCURRENCY, Summary, send
from twilio_component.campaign.window import Window

__all__ = [
    "DEFAULT_CONCURRENCY",
    "FINAL",
    "PROGRESS_EVERY",
    "Campaign",
    "Checked",
    "Planned",
    "Recipients",
    "Row",
    "Summary",
    "Window",
    "campaign_key",
    "plain_progress",
    "read_rows",
    "report",
    "send",
    "status",
]
