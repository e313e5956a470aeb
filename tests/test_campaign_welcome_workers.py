"""On Celery as on one machine: opted-out recipients are skipped and deferred rows wait for their
send window (a countdown, not a busy worker); campaign status shows both states."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from celery_workers import campaign_files, cli, per_recipient, wait_for, workers
from test_distributed import env_of, send_command
from test_send_window import HONOLULU, NEW_YORK, window_open_in_new_york_only

from twilio_component import campaign
from twilio_component.journal import open_journal
from twilio_component.sandbox import Sandbox

SENDER = "+15005550006"
OPTED_OUT = "+15558675399"


def counts(journal: str, campaign_id: str) -> dict[str, int]:
    return dict(campaign.status(open_journal(journal), campaign_id) or {})


def test_workers_skip_opted_out_rows_and_defer_rows_outside_the_window(
    tmp_path: Path, twilio_sandbox: Sandbox, redis_server: Any, postgres_url: str
) -> None:
    rows, step = campaign_files(tmp_path, [NEW_YORK, HONOLULU, OPTED_OUT], SENDER)
    env = env_of(twilio_sandbox)
    added = cli("optouts", "add", OPTED_OUT, "--journal", postgres_url, env=env)
    assert added.returncode == 0, added.stderr
    window = window_open_in_new_york_only(datetime.now(UTC))
    command = send_command(rows, step, "hours", redis_server.url, postgres_url)
    queued = cli(*command, "--send-window", window, "--timezone", "America/New_York", env=env)
    assert queued.returncode == 0, queued.stderr

    def settled() -> bool:
        found = counts(postgres_url, "hours")
        return (found["sent"], found["opted_out"], found["deferred"]) == (1, 1, 1)

    with workers(tmp_path, redis_server.url, postgres_url, env, count=1):
        wait_for(settled, 120, "one row sent, one opted out, one deferred")
    assert per_recipient(twilio_sandbox.messages) == {NEW_YORK: 1}


def test_workers_skip_landlines_and_status_counts_them(
    tmp_path: Path, twilio_sandbox: Sandbox, redis_server: Any, postgres_url: str
) -> None:
    london, mobile = "+442079460958", "+14158675309"
    rows, step = campaign_files(tmp_path, [london, mobile], SENDER)
    env = env_of(twilio_sandbox)
    command = send_command(rows, step, "lines", redis_server.url, postgres_url)
    queued = cli(*command, "--skip-landlines", env=env)
    assert queued.returncode == 0, queued.stderr

    def settled() -> bool:
        found = counts(postgres_url, "lines")
        return (found.get("sent"), found.get("skipped_landline")) == (1, 1)

    with workers(tmp_path, redis_server.url, postgres_url, env, count=1):
        wait_for(settled, 120, "one row sent, one landline skipped")
    assert per_recipient(twilio_sandbox.messages) == {mobile: 1}
    status = cli("campaign", "status", "lines", "--journal", postgres_url, env=env)
    assert status.returncode == 0, status.stderr
    assert '"skipped_landline": 1' in status.stdout
