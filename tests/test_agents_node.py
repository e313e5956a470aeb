"""An MCP client that is not ours, the protocol's TypeScript SDK on Node.js, uses the tools:
it lists them, validates each structured result against the tool's output schema, and sends."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from conftest import FROM, TO
from mcp_peers import http_server, over_node

from twilio_component.sandbox import Sandbox

SERVER = [sys.executable, "-m", "twilio_component", "mcp"]


def node_env(sandbox_env: dict[str, str]) -> dict[str, str]:
    return {**sandbox_env, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def test_the_typescript_client_lists_the_tools_and_sends_once_per_key(
    sandbox_env: dict[str, str], twilio_sandbox: Sandbox, tmp_path: Path
) -> None:
    sms = {"To": TO, "From": FROM, "Body": "from Node", "idempotencyKey": "node-1"}
    plan = {
        "command": SERVER[0],
        "args": [*SERVER[1:], "--journal", str(tmp_path / "agent.db")],
        "env": node_env(sandbox_env),
        "calls": [
            {"name": "twilio_sendSMS", "arguments": sms},
            {"name": "twilio_sendSMS", "arguments": sms},
            {"name": "twilio_lookupPhoneNumber", "arguments": {"PhoneNumber": "+14158675309"}},
            {"name": "twilio_sendSMS", "arguments": {"To": "0"}},
        ],
    }
    seen = over_node(plan)
    tools = {tool["name"]: tool for tool in seen["tools"]}
    assert tools["twilio_sendSMS"]["annotations"]["idempotentHint"] is True
    assert tools["twilio_getMessage"]["annotations"]["readOnlyHint"] is True
    first, again, lookup, invalid = seen["results"]
    assert first["structuredContent"]["sid"] == again["structuredContent"]["sid"]
    assert lookup["structuredContent"]["nationalFormat"] == "(415) 867-5309"
    assert invalid["isError"] is True
    assert "To:" in invalid["content"][0]["text"]
    assert len(twilio_sandbox.messages) == 1


def test_the_typescript_client_works_over_http_with_the_token(
    sandbox_env: dict[str, str], twilio_sandbox: Sandbox, tmp_path: Path
) -> None:
    token = "node-peer-token-5f2c"
    env = {**node_env(sandbox_env), "TWILIO_COMPONENT_MCP_TOKEN": token}
    with http_server([], env, tmp_path) as server:
        sms = {"To": TO, "From": FROM, "Body": "from Node over HTTP"}
        plan = {
            "url": server.url,
            "token": token,
            "calls": [{"name": "twilio_sendSMS", "arguments": sms}],
        }
        seen = over_node(plan)
    assert seen["results"][0]["structuredContent"]["sid"].startswith("SM")
    assert len(twilio_sandbox.messages) == 1
