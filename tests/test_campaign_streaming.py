"""A campaign read as a stream: every row checked, then planned in the journal as rows; the
report in the CSV's order with the rows not reached; a file that changes under it refused."""

from __future__ import annotations

import csv
import io
import json
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_campaign import (
    STEP,
    campaign,
    messages,
    recipients,
    sandbox_process,
    send,
    start_campaign,
    stop_once_sent,
    write,
)

from twilio_component import Host, StepError
from twilio_component.campaign import Campaign, Row
from twilio_component.twilio.settings import Settings


@pytest.fixture
def sandbox() -> Iterator[dict[str, Any]]:
    with sandbox_process() as details:
        yield details


def report(sandbox: dict[str, Any], tmp_path: Path) -> list[dict[str, str]]:
    done = campaign(sandbox, tmp_path, "report", "c1")
    assert done.returncode == 0, done.stderr
    return list(csv.DictReader(io.StringIO(done.stdout)))


def test_the_report_lists_every_recipient_in_the_order_of_the_csv(
    sandbox: dict[str, Any], tmp_path: Path
) -> None:
    numbers = ["+15550000009", "+15550000001", "+15550000005", "+15550000003"]
    files = write(tmp_path, [f"{n},n" for n in numbers])
    assert send(sandbox, tmp_path, files, "--mps", "100").returncode == 0
    rows = report(sandbox, tmp_path)
    assert [r["to"] for r in rows] == numbers
    assert {r["state"] for r in rows} == {"sent"}
    assert all(r["sid"].startswith("SM") for r in rows)


def test_rows_a_killed_run_did_not_reach_are_in_the_report_as_pending(
    sandbox: dict[str, Any], tmp_path: Path
) -> None:
    numbers = recipients(12)
    files = write(tmp_path, [f"{n},n" for n in numbers])
    process = start_campaign(sandbox, tmp_path, files, "2", piped=False)
    stop_once_sent(process, sandbox, 1, signal.SIGKILL)
    process.wait(timeout=30)
    rows = report(sandbox, tmp_path)
    assert [r["to"] for r in rows] == numbers
    states = {r["state"] for r in rows}
    assert "pending" in states
    assert states <= {"sent", "unknown", "pending"}  # as campaign status counts them


def test_a_line_that_is_not_utf8_is_named_and_nothing_is_sent(
    sandbox: dict[str, Any], tmp_path: Path
) -> None:
    files = write(tmp_path, ["+15550000001,Ada", "+15550000002,Bob"])
    path = Path(files[0])
    path.write_bytes(path.read_bytes() + b"+15550000003,Ren\xe9e\n")
    done = send(sandbox, tmp_path, files, "--mps", "100")
    assert done.returncode == 2, done.stderr
    assert "line 4 is not UTF-8" in done.stderr
    assert messages(sandbox) == []


def test_the_plan_is_kept_as_rows_and_no_journal_value_grows_with_the_campaign(
    sandbox: dict[str, Any], tmp_path: Path
) -> None:
    numbers = [f"+1555{i:07d}" for i in range(3000)]
    files = write(tmp_path, [f"{n},n" for n in numbers])
    done = send(sandbox, tmp_path, files, "--mps", "10000")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sent"] == 3000
    with sqlite3.connect(tmp_path / "twilio-component-journal.db") as db:
        planned = db.execute("SELECT COUNT(*) FROM plan_rows WHERE campaign = 'c1'").fetchone()
        (largest,) = db.execute("SELECT MAX(LENGTH(value)) FROM notes").fetchone()
    assert planned == (3000,)
    assert largest < 1024


class Changing:
    """Rows that are read differently the second time (a file written meanwhile)."""

    def __init__(self) -> None:
        self.reads = 0

    def __iter__(self) -> Iterator[Row]:
        self.reads += 1
        yield Row(2, {"phone": "+15550000001", "name": "Ada"})
        yield Row(3, {"phone": "+15550000002", "name": "Bob" if self.reads == 1 else "Rob"})


def test_rows_that_change_between_the_check_and_the_plan_are_refused(tmp_path: Path) -> None:
    with Host.load(Settings(journal=str(tmp_path / "j.db"))) as host:
        run = Campaign(host, "c1", STEP, Changing(), ["phone", "name"])
        checked = run.check(pytest.fail)
        run.record(checked)
        with pytest.raises(StepError, match="the rows changed while they were read"):
            run.store(checked)
        assert host.journal.plans.size("c1") is None
