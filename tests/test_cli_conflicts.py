"""Conflicting or malformed command-line input is refused with exit 2 before anything is sent."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Cli

from twilio_component.sandbox import Sandbox

TO, FROM = "+15558675310", "+15005550006"
STEP = {"type": "twilio/v1/sendSMS", "parameters": {"To": TO, "From": FROM, "Body": "hi"}}


def write(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "step.json"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def test_sendsms_from_a_whatsapp_sender_to_a_plain_number_is_refused(
    cli: Cli, twilio_sandbox: Sandbox
) -> None:
    result = cli("send", "--from", "whatsapp:" + FROM, "--to", TO, "--body", "x")
    assert result.code == 2
    assert "whatsapp" in result.err
    assert twilio_sandbox.messages == []


def test_an_input_given_twice_is_refused(cli: Cli, tmp_path: Path, twilio_sandbox: Sandbox) -> None:
    result = cli("run", write(tmp_path, json.dumps(STEP)), "--input", "a=1", "--input", "a=2")
    assert result.code == 2
    assert "--input a" in result.err
    assert twilio_sandbox.messages == []


def test_a_step_file_with_a_key_given_twice_is_refused(
    cli: Cli, tmp_path: Path, twilio_sandbox: Sandbox
) -> None:
    text = json.dumps(STEP).replace('"Body": "hi"', '"Body": "hi", "To": "+15558675311"')
    for command in ("validate", "run"):
        result = cli(command, write(tmp_path, text))
        assert result.code == 2, command
        assert "'To' is given twice" in result.err
    assert twilio_sandbox.messages == []


def test_a_step_file_that_is_not_utf8_is_refused_with_where(cli: Cli, tmp_path: Path) -> None:
    result = cli("validate", write(tmp_path, b'{"type": "\xff"}'))
    assert result.code == 2
    assert "not UTF-8" in result.err
    assert "byte 10" in result.err


@pytest.mark.parametrize("depth", [100, 900, 100_000])
def test_a_deeply_nested_step_file_is_refused(
    cli: Cli, tmp_path: Path, twilio_sandbox: Sandbox, depth: int
) -> None:
    nested = "[" * depth + "]" * depth
    path = write(tmp_path, f'{{"type": "twilio/v1/sendSMS", "parameters": {{"To": {nested}}}}}')
    for command in ("validate", "run"):
        result = cli(command, path)
        assert result.code == 2, (command, result.err)
        assert "nested more than" in result.err
    assert twilio_sandbox.messages == []


def test_an_auth_token_beside_an_api_key_is_refused(
    cli: Cli, sandbox_env: dict[str, str], twilio_sandbox: Sandbox
) -> None:
    env = {**sandbox_env, "TWILIO_API_KEY": "SK" + "0" * 32, "TWILIO_API_SECRET": "s3cr3t-value"}
    result = cli("send", "--to", TO, "--from", FROM, "--body", "x", env=env)
    assert result.code == 2
    assert "TWILIO_AUTH_TOKEN" in result.err
    assert "TWILIO_API_KEY" in result.err
    assert "s3cr3t-value" not in result.err
    assert twilio_sandbox.messages == []


class SlowTwilio(http.server.ThreadingHTTPServer):
    """A loopback server that holds every request for five seconds before answering."""

    def __init__(self) -> None:
        self.received = threading.Event()
        super().__init__(("127.0.0.1", 0), _SlowHandler)


class _SlowHandler(http.server.BaseHTTPRequestHandler):
    server: SlowTwilio

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.received.set()
        threading.Event().wait(5)
        self.send_response(500)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def slow_twilio() -> Iterator[SlowTwilio]:
    server = SlowTwilio()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_sigint_while_waiting_for_twilio_is_one_line_and_exit_4(slow_twilio: SlowTwilio) -> None:
    env = {
        **os.environ,
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "secret-token-value",
        "TWILIO_API_BASE_URL": f"http://127.0.0.1:{slow_twilio.server_address[1]}",
    }
    command = [sys.executable, "-m", "twilio_component", "send", "--to", TO, "--from", FROM]
    process = subprocess.Popen(
        [*command, "--body", "x"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert slow_twilio.received.wait(30), "the request never arrived"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 4
    assert "Traceback" not in err
    assert "KeyboardInterrupt" not in err
    assert "secret-token-value" not in err
    assert TO in err
    assert len(err.strip().splitlines()) == 1, err
    assert out == ""
