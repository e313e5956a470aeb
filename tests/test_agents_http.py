"""``twilio-component mcp --http``: Streamable HTTP at /mcp behind a bearer token, seen by the
official MCP Python client and by plain HTTP requests."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import FROM, TO
from mcp_peers import HttpServer, http_server, over_http

from twilio_component.sandbox import Sandbox

TOKEN = "agent-bearer-0123456789abcdef"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "plain-http", "version": "1"},
    },
}
STREAMABLE = {"Accept": "application/json, text/event-stream"}


@pytest.fixture
def server(sandbox_env: dict[str, str], tmp_path: Path) -> Iterator[HttpServer]:
    env = {**sandbox_env, "TWILIO_COMPONENT_MCP_TOKEN": TOKEN, "PATH": "/usr/bin:/bin"}
    with http_server(["--max-sends", "2"], env, tmp_path) as running:
        yield running


def test_a_request_without_the_bearer_token_is_401(server: HttpServer) -> None:
    answer = requests.post(server.url, json=INITIALIZE, headers=STREAMABLE, timeout=30)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_request_with_a_wrong_token_is_401(server: HttpServer) -> None:
    headers = {**STREAMABLE, "Authorization": "Bearer not-the-token"}
    answer = requests.post(server.url, json=INITIALIZE, headers=headers, timeout=30)
    assert answer.status_code == 401


def test_a_request_with_the_bearer_token_is_200(server: HttpServer) -> None:
    headers = {**STREAMABLE, "Authorization": f"Bearer {TOKEN}"}
    answer = requests.post(server.url, json=INITIALIZE, headers=headers, timeout=30)
    assert answer.status_code == 200
    assert "twilio-component" in answer.text


def test_the_official_client_sends_over_http_and_the_cap_holds_across_sessions(
    server: HttpServer, twilio_sandbox: Sandbox
) -> None:
    sms = ("twilio_sendSMS", {"To": TO, "From": FROM, "Body": "over HTTP"})
    first = over_http(server.url, TOKEN, [sms, sms])
    assert "twilio_sendSMS" in first.tools
    assert [r.is_error for r in first.results] == [False, False]
    second = over_http(server.url, TOKEN, [sms])
    assert second.results[0].is_error
    assert len(twilio_sandbox.messages) == 2


def test_the_tokens_appear_nowhere(server: HttpServer, twilio_sandbox: Sandbox) -> None:
    seen = over_http(server.url, TOKEN, [("twilio_sendSMS", {"To": "+15005550001"})])
    assert seen.results[0].is_error
    for secret in (TOKEN, twilio_sandbox.auth_token):
        assert secret not in seen.everything()
        assert secret not in server.stderr()


def test_the_bearer_scheme_is_case_insensitive(server: HttpServer) -> None:
    headers = {**STREAMABLE, "Authorization": f"bearer {TOKEN}"}
    answer = requests.post(server.url, json=INITIALIZE, headers=headers, timeout=30)
    assert answer.status_code == 200


def test_sigterm_stops_it_cleanly_and_removes_its_own_journal(
    sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**sandbox_env, "TWILIO_COMPONENT_MCP_TOKEN": TOKEN, "TMPDIR": str(temporary)}
    with http_server([], env, tmp_path) as running:
        (made,) = temporary.iterdir()
        assert made.name.startswith("twilio-component-mcp-")
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(timeout=60) == 0
    assert list(temporary.iterdir()) == []
