"""A separately installed component's actions are agent tools too, named for it, with its own
connection; its secret stays out of every result."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import ACME_TOKEN
from mcp_peers import over_stdio, text


def acme_env(installed: Path) -> dict[str, str]:
    return {"PYTHONPATH": str(installed), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def connection(tmp_path: Path) -> list[str]:
    path = tmp_path / "acme.json"
    path.write_text(json.dumps({"token": ACME_TOKEN}), encoding="utf-8")
    return ["--sandbox", "--connection", f"acme={path}"]


def test_an_installed_components_action_is_a_tool_named_for_it(
    installed: Path, tmp_path: Path
) -> None:
    calls = [("acme_ping", {"channel": "#general", "text": "hello"})]
    seen = over_stdio(connection(tmp_path), acme_env(installed), calls)
    assert {"acme_ping", "twilio_sendSMS"} <= set(seen.tools)
    assert seen.results[0].structured_content == {"posted": "#general: hello"}


def test_its_own_rules_are_tool_errors_and_its_secret_is_masked(
    installed: Path, tmp_path: Path
) -> None:
    calls = [
        ("acme_ping", {"channel": "#general", "text": "LOUD"}),
        ("acme_ping", {"channel": "#broken", "text": "hello"}),  # raises with the token in it
    ]
    seen = over_stdio(connection(tmp_path), acme_env(installed), calls)
    assert [r.is_error for r in seen.results] == [True, True]
    assert "must not be all capitals" in text(seen.results[0])
    assert ACME_TOKEN not in seen.everything()


def test_without_its_connection_its_tools_say_how_to_give_one(
    installed: Path, tmp_path: Path
) -> None:
    seen = over_stdio(
        ["--sandbox"], acme_env(installed), [("acme_ping", {"channel": "#a", "text": "b"})]
    )
    assert seen.results[0].is_error
    assert "--connection acme=FILE.json" in text(seen.results[0])
    assert "--connection acme=FILE.json" in seen.stderr
