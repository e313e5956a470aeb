"""--journal on the command line: keyed sends and resumable workflow runs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from conftest import Cli, creates

from twilio_component.sandbox import Sandbox

TO, FROM = "+15558675310", "+15005550006"
WORKFLOW = {
    "tasks": [
        {
            "name": "first",
            "type": "twilio/v1/sendSMS",
            "parameters": {"To": TO, "From": FROM, "Body": "one"},
        },
        {
            "name": "second",
            "type": "twilio/v1/sendSMS",
            "parameters": {"To": TO, "From": FROM, "Body": "after ${first.sid}"},
        },
    ]
}


def test_send_with_a_key_twice_sends_once_and_prints_the_same_output(
    cli: Cli, twilio_sandbox: Sandbox, tmp_path: Path
) -> None:
    journal = str(tmp_path / "j.db")
    argv = ("send", "--to", TO, "--from", FROM, "--body", "x", "--journal", journal, "--key", "a")
    first, again = cli(*argv), cli(*argv)
    assert (first.code, again.code) == (0, 0)
    assert first.json() == again.json()
    assert creates(twilio_sandbox) == 1


def test_a_key_without_a_journal_is_bad_usage(cli: Cli, twilio_sandbox: Sandbox) -> None:
    result = cli("send", "--to", TO, "--from", FROM, "--body", "x", "--key", "a")
    assert result.code == 2
    assert "--journal" in result.err
    assert creates(twilio_sandbox) == 0


def test_a_rerun_of_a_run_id_resends_nothing_and_resolves_the_same_references(
    cli: Cli, twilio_sandbox: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "w.json"
    path.write_text(json.dumps(WORKFLOW), encoding="utf-8")
    argv = ("run", str(path), "--journal", str(tmp_path / "j.db"), "--run-id", "r1")
    first, again = cli(*argv), cli(*argv)
    assert (first.code, again.code) == (0, 0), first.err + again.err
    assert first.json() == again.json()
    assert creates(twilio_sandbox) == 2


def test_run_id_without_a_journal_is_bad_usage(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text(json.dumps(WORKFLOW), encoding="utf-8")
    assert cli("run", str(path), "--run-id", "r1").code == 2


def test_a_workflow_killed_after_its_first_task_resumes_without_sending_it_again(
    twilio_sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "w.json"
    path.write_text(json.dumps(WORKFLOW), encoding="utf-8")
    journal = str(tmp_path / "j.db")
    child = f"""
import os, signal, sys
from twilio_component.journal import Journal
original = Journal.sent
def sent(self, key, owner, output):
    original(self, key, owner, output)
    if key.endswith("/first"):
        os.kill(os.getpid(), signal.SIGKILL)
Journal.sent = sent
from twilio_component.cli import main
sys.exit(main(["run", {str(path)!r}, "--journal", {journal!r}, "--run-id", "r1"]))
"""
    env = {**sandbox_env, "PATH": "/usr/bin:/bin"}
    killed = subprocess.run(
        [sys.executable, "-c", child],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert creates(twilio_sandbox) == 1
    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "twilio_component",
            "run",
            str(path),
            "--journal",
            journal,
            "--run-id",
            "r1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    tasks = json.loads(resumed.stdout)["tasks"]
    assert tasks["second"]["body"] == f"after {tasks['first']['sid']}"
    first = tasks["first"]["sid"]
    assert sorted(m["body"] for m in twilio_sandbox.messages) == sorted(["one", f"after {first}"])
    assert creates(twilio_sandbox) == 2
