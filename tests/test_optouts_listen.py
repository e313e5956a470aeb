"""A STOP through a listening workflow, end to end: the journal records the opt-out, the sandbox
answers 21610 as Twilio does, campaigns skip the recipient, START and `optouts remove` undo it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from test_listen import (
    CALLER,
    EXAMPLES,
    NUMBER,
    Process,
    control,
    environment,
    sandbox,
    start,
    stop,
)

__all__ = ["sandbox"]  # the fixture, used by name

OTHER = "+15558675311"


def run(process_env: dict[str, str], cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "twilio_component", *argv],
        env=process_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def sent_to(sandbox: Process, number: str) -> list[dict[str, Any]]:
    messages = control(sandbox, "GET", "messages")["messages"]
    return [m for m in messages if m["to"] == number and m["direction"] != "inbound"]


def test_a_stop_reply_is_honoured_everywhere_until_start_and_remove(
    sandbox: Process, tmp_path: Path
) -> None:
    env = environment(sandbox)
    journal = str(tmp_path / "journal.db")
    listening = start("listen", str(EXAMPLES / "auto_reply.json"), "--journal", journal, env=env)
    try:
        control(sandbox, "POST", "inbound", {"From": CALLER, "To": NUMBER, "Body": "  stop "})
    finally:
        assert stop(listening) == 0
    (automatic,) = sent_to(sandbox, CALLER)  # Twilio's own answer; the workflow's is refused
    assert "unsubscribed" in automatic["body"]
    listed = json.loads(run(env, tmp_path, "optouts", "list", "--journal", journal).stdout)
    assert [(o["address"], o["scope"]) for o in listed["optouts"]] == [(CALLER, NUMBER)]

    plain = run(env, tmp_path, "send", "--to", CALLER, "--from", NUMBER, "--body", "hi")
    assert plain.returncode == 3
    assert "21610" in plain.stderr
    journaled = ("send", "--to", CALLER, "--from", NUMBER, "--body", "hi", "--journal", journal)
    refused = run(env, tmp_path, *journaled)
    assert refused.returncode == 3
    assert "opted out" in refused.stderr
    assert len(sent_to(sandbox, CALLER)) == 1

    rows = tmp_path / "rows.csv"
    rows.write_text(f"phone\n{CALLER}\n{OTHER}\n", encoding="utf-8")
    step = tmp_path / "step.json"
    parameters = {"To": "${row.phone}", "From": NUMBER, "Body": "Sale"}
    step.write_text(json.dumps({"type": "twilio/v1/sendSMS", "parameters": parameters}))
    campaign = run(
        env, tmp_path, "campaign", "send", str(rows), "--step", str(step),
        "--campaign", "sale", "--journal", journal,
    )  # fmt: skip
    assert campaign.returncode == 0, campaign.stderr
    summary = json.loads(campaign.stdout)
    assert (summary["sent"], summary["opted_out"]) == (1, 1)
    assert len(sent_to(sandbox, OTHER)) == 1

    control(sandbox, "POST", "inbound", {"From": CALLER, "To": NUMBER, "Body": "START"})
    assert run(env, tmp_path, "optouts", "remove", CALLER, "--journal", journal).returncode == 0
    assert run(env, tmp_path, *journaled).returncode == 0
    assert run(env, tmp_path, "optouts", "add", OTHER, "--journal", journal).returncode == 0
    exported = run(env, tmp_path, "optouts", "export", "--journal", journal).stdout
    assert exported.splitlines()[0] == "address,scope,source,at"
    assert f"{OTHER},*,added," in exported
