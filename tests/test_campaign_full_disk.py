"""A campaign whose journal's disk fills up mid-run: the rows sent are counted, none is lost or
sent twice, a summary is printed (not exit 1, which promises nothing was sent), and a rerun
with space sends the rest once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from twilio_component.sandbox import Sandbox

SENDER = "+15005550006"
ROWS = 120


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 200 KiB filesystem of the test's own (tmpfs; mounting needs root, as CI runs)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert mounted.returncode == 0, f"a full disk needs a small tmpfs: {mounted.stderr}"
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def campaign_send(
    sandbox: Sandbox, folder: Path, journal: Path
) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")},
        "TWILIO_ACCOUNT_SID": sandbox.account_sid,
        "TWILIO_AUTH_TOKEN": sandbox.auth_token,
        "TWILIO_API_BASE_URL": sandbox.base_url,
    }
    return subprocess.run(
        [
            *(sys.executable, "-m", "twilio_component", "campaign", "send"),
            *(str(folder / "rows.csv"), "--step", str(folder / "step.json")),
            *("--campaign", "full", "--journal", str(journal), "--mps", "1000"),
            *("--concurrency", "4"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_full_journal_disk_is_summed_up_and_a_rerun_with_space_sends_the_rest_once(
    twilio_sandbox: Sandbox, tmp_path: Path, small_disk: Path
) -> None:
    recipients = [f"+1555{i:07d}" for i in range(ROWS)]
    (tmp_path / "rows.csv").write_text("phone\n" + "\n".join(recipients) + "\n")
    (tmp_path / "step.json").write_text(
        json.dumps(
            {
                "type": "twilio/v1/sendSMS",
                "parameters": {"To": "${row.phone}", "From": SENDER, "Body": "Hello"},
            }
        )
    )
    journal = small_disk / "journal.db"
    first = campaign_send(twilio_sandbox, tmp_path, journal)
    sent_before = Counter(m["to"] for m in twilio_sandbox.messages)
    assert 0 < sum(sent_before.values()) < ROWS, first.stderr
    assert first.returncode == 4, first.stderr
    summary = json.loads(first.stdout)
    assert summary["total"] == ROWS
    assert summary["sent"] + summary["unknown"] + summary["pending"] == ROWS
    assert summary["journal_error"] is not None
    assert "free space and run the same command again" in first.stderr
    subprocess.run(["mount", "-o", "remount,size=32m", str(small_disk)], check=True)
    again = campaign_send(twilio_sandbox, tmp_path, journal)
    assert again.returncode == 0, again.stderr
    assert Counter(m["to"] for m in twilio_sandbox.messages) == dict.fromkeys(recipients, 1)
