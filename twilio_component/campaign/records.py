"""What the journal says of a campaign: its counts by state, and one report line per recipient."""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from twilio_component.host import Host
    from twilio_component.journal import Journal

__all__ = ["FINAL", "REPORT_COLUMNS", "report", "status"]

#: States after which a row is never sent again.
FINAL = ("sent", "failed", "held", "opted_out", "skipped_landline")
#: The columns of ``campaign report``.
REPORT_COLUMNS = ("to", "state", "sid", "error_code", "status")


#: How a row's record shows in the counts and the report: not reached yet, pending; claimed by
#: a run that may be sending it (or was killed doing so), unknown.
_STATE_SHOWN: dict[str | None, str] = {None: "pending", "claimed": "unknown"}


def status(journal: Journal, campaign_id: str) -> dict[str, Any] | None:
    """The counts of a campaign by state, from its plan in the journal; None when it has no
    such campaign. Rows not reached yet count as pending."""
    plans = journal.plans
    size = plans.size(campaign_id)
    noted = (journal.noted(f"campaign/{campaign_id}") or {}).get("recipients")
    if size is None and noted is None:
        return None
    counts = dict.fromkeys(
        (
            "sent",
            "failed",
            "unknown",
            "pending",
            "held",
            "opted_out",
            "deferred",
            "skipped_landline",
        ),
        0,
    )
    recorded = 0
    for state, count in plans.counts(campaign_id).items():
        shown = _STATE_SHOWN.get(state, str(state))
        counts[shown] = counts.get(shown, 0) + count
        recorded += count
    total = max(recorded, int(size if size is not None else noted or 0))
    counts["pending"] += total - recorded
    return {"campaign": campaign_id, "total": total, **counts}


def report(journal: Journal, campaign_id: str, out: TextIO, host: Host) -> int:
    """Write one CSV row per recipient (to, state, sid, error_code, status), in the CSV's
    order, a page of the plan at a time; return the count.

    ``to`` is the recipient and ``sid`` what the output names (the step's component says
    which: its traffic and its receipt); ``status`` is the output's own.
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    prefix = f"campaign/{campaign_id}/"
    count = 0
    for row in journal.plans.rows(campaign_id):
        output = row.output_object() or {}
        receipt = host.receipt(row.step_type, output) if output and row.step_type else None
        writer.writerow(
            [
                row.key.removeprefix(prefix),
                _STATE_SHOWN.get(row.state, row.state),
                receipt or "",
                "" if row.error_code is None else row.error_code,
                output.get("status") or "",
            ]
        )
        count += 1
    return count
