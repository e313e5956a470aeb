"""A separately installed component package is found by entry point and runs from the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ACME_TOKEN as TOKEN


def cli(installed: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
    env["PYTHONPATH"] = str(installed)
    return subprocess.run(
        [sys.executable, "-m", "twilio_component", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def connection_file(tmp_path: Path) -> str:
    path = tmp_path / "acme.json"
    path.write_text(json.dumps({"token": TOKEN}), encoding="utf-8")
    return str(path)


def test_describe_lists_every_installed_component_with_its_own_icon(installed: Path) -> None:
    done = cli(installed, "describe", "--format", "palette")
    assert done.returncode == 0, done.stderr
    entries: list[dict[str, Any]] = json.loads(done.stdout)
    icons = {entry["name"]: entry["icon"] for entry in entries}
    assert set(icons) == {"twilio", "acme"}
    assert 'id="acme"' in icons["acme"]
    assert 'id="acme"' not in icons["twilio"]


def test_describe_component_prints_that_one_entry(installed: Path) -> None:
    done = cli(installed, "describe", "--component", "acme/v1")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["name"] == "acme"


def test_describe_an_unknown_component_is_bad_usage_naming_the_installed(installed: Path) -> None:
    done = cli(installed, "describe", "--component", "slack")
    assert done.returncode == 2
    assert "acme/v1" in done.stderr


def test_its_step_runs_from_the_cli_with_its_own_connection(
    installed: Path, connection_file: str
) -> None:
    done = cli(
        installed,
        *("send", "--action", "acme/v1/ping", "--connection", f"acme={connection_file}"),
        *("--param", "channel=#ops", "--param", "text=deployed"),
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"posted": "#ops: deployed"}
    assert TOKEN not in done.stdout + done.stderr


def test_its_rule_is_enforced_before_it_runs(installed: Path, connection_file: str) -> None:
    done = cli(
        installed,
        *("send", "--action", "acme/v1/ping", "--connection", f"acme={connection_file}"),
        *("--param", "channel=#ops", "--param", "text=SHOUTING"),
    )
    assert done.returncode == 2
    assert "text: must not be all capitals" in done.stderr
    assert done.stdout == ""


def test_its_step_without_a_connection_says_how_to_give_one(installed: Path) -> None:
    done = cli(
        installed,
        *("send", "--action", "acme/v1/ping", "--param", "channel=#ops", "--param", "text=hi"),
    )
    assert done.returncode == 2
    assert "--connection acme=FILE.json" in done.stderr


def test_a_mixed_workflow_gives_each_component_its_connection(
    installed: Path, connection_file: str, tmp_path: Path
) -> None:
    workflow = {
        "tasks": [
            {
                "name": "sms",
                "type": "twilio/v1/sendSMS",
                "parameters": {"To": "+15558675310", "From": "+15005550006", "Body": "hi"},
            },
            {
                "name": "chat",
                "type": "acme/v1/ping",
                "parameters": {"channel": "#ops", "text": "sent ${sms.sid}"},
            },
        ]
    }
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(workflow), encoding="utf-8")
    done = cli(installed, "run", str(path), "--sandbox", "--connection", f"acme={connection_file}")
    assert done.returncode == 0, done.stderr
    tasks = json.loads(done.stdout)["tasks"]
    assert tasks["chat"]["posted"] == f"#ops: sent {tasks['sms']['sid']}"
