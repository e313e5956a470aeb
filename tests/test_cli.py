"""The command line as a person meets it: help, version, exit codes, the sandbox server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import FROM, TO


def run(
    *argv: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
    return subprocess.run(
        [sys.executable, "-m", "twilio_component", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**base, **(env or {})},
        timeout=60,
        check=False,
    )


def test_help_lists_every_command_and_the_exit_codes() -> None:
    result = run("--help")
    assert result.returncode == 0
    for word in (
        "send",
        "run",
        "validate",
        "describe",
        "estimate",
        "sandbox",
        "exit codes",
        "TWILIO_AUTH_TOKEN",
    ):
        assert word in result.stdout


def test_unknown_command_is_usage_error_exit_2() -> None:
    result = run("fax")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_send_sandbox_works_from_any_directory_without_credentials(tmp_path: Path) -> None:
    result = run("send", "--sandbox", "--to", TO, "--from", FROM, "--body", "hi", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert len(output) == 20
    assert output["sid"].startswith("SM")


@pytest.fixture
def sandbox_server() -> Iterator[dict[str, str]]:
    child = subprocess.Popen(
        [sys.executable, "-m", "twilio_component", "sandbox", "--auth-token", "served-token-1234"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        yield json.loads(child.stdout.readline())
    finally:
        child.terminate()
        child.wait(timeout=10)


def test_sandbox_command_prints_one_json_line_then_serves(sandbox_server: dict[str, str]) -> None:
    assert set(sandbox_server) == {"base_url", "account_sid", "auth_token", "console_url"}
    assert sandbox_server["auth_token"] == "served-token-1234"
    env = {
        "TWILIO_ACCOUNT_SID": sandbox_server["account_sid"],
        "TWILIO_AUTH_TOKEN": sandbox_server["auth_token"],
        "TWILIO_API_BASE_URL": sandbox_server["base_url"],
    }
    result = run("send", "--to", TO, "--from", FROM, "--body", "via the served sandbox", env=env)
    assert result.returncode == 0, result.stderr
    sid = json.loads(result.stdout)["sid"]
    fetched = requests.get(
        f"{sandbox_server['base_url']}/2010-04-01/Accounts/{sandbox_server['account_sid']}/Messages/{sid}.json",
        auth=(sandbox_server["account_sid"], sandbox_server["auth_token"]),
        timeout=5,
    )
    assert fetched.json()["body"] == "via the served sandbox"


def test_sandbox_command_accepts_an_api_key_given_on_its_command_line() -> None:
    key, secret = "SK" + "7c" * 16, "served-key-secret-5678"
    child = subprocess.Popen(
        [sys.executable, "-m", "twilio_component", "sandbox", "--api-key", f"{key}:{secret}"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        served = json.loads(child.stdout.readline())
        env = {
            "TWILIO_ACCOUNT_SID": served["account_sid"],
            "TWILIO_API_KEY": key,
            "TWILIO_API_SECRET": secret,
            "TWILIO_API_BASE_URL": served["base_url"],
        }
        result = run("send", "--to", TO, "--from", FROM, "--body", "with a key", env=env)
    finally:
        child.terminate()
        child.wait(timeout=10)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["body"] == "with a key"
    assert secret not in result.stdout + result.stderr


@pytest.mark.parametrize("given", ["AK123:TopSecret42", "SK" + "0" * 32 + "=TopSecret42"])
def test_sandbox_command_refuses_a_malformed_api_key_with_exit_2_without_echoing_it(
    given: str,
) -> None:
    result = run("sandbox", "--api-key", given)
    assert result.returncode == 2
    assert "TopSecret42" not in result.stdout + result.stderr
    assert "--api-key" in result.stderr
    assert "SK" in result.stderr


def test_sandbox_refuses_to_listen_beyond_loopback() -> None:
    result = run("sandbox", "--host", "0.0.0.0")  # noqa: S104 - the point is that it is refused
    assert result.returncode == 2
    assert "loopback" in result.stderr


def test_version_is_printed() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("twilio-component ")
