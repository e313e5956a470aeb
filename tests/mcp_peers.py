"""Real MCP clients for the agent tests: the official Python SDK (stdio and Streamable HTTP)
and the protocol's TypeScript SDK on Node.js, each against a ``twilio-component mcp`` process."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent, Tool

NODE_PEER = Path(__file__).parent / "mcp_node"
SERVER = (sys.executable, "-m", "twilio_component", "mcp")


@dataclass
class Transcript:
    """What one client session saw: the tools listed, each call's result, the server's stderr."""

    tools: dict[str, Tool] = field(default_factory=dict)
    results: list[CallToolResult] = field(default_factory=list)
    stderr: str = ""

    def everything(self) -> str:
        """All the server said, for secret checks."""
        listed = [tool.model_dump_json() for tool in self.tools.values()]
        called = [result.model_dump_json() for result in self.results]
        return "\n".join([*listed, *called, self.stderr])


Call = tuple[str, Mapping[str, Any]]


async def _session(session: ClientSession, calls: Sequence[Call], seen: Transcript) -> None:
    await session.initialize()
    seen.tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    for name, arguments in calls:
        seen.results.append(await session.call_tool(name, dict(arguments)))


def over_stdio(
    args: Sequence[str],
    env: Mapping[str, str],
    calls: Sequence[Call] = (),
    *,
    command: Sequence[str] = SERVER,
    cwd: Path | None = None,
) -> Transcript:
    """Start ``twilio-component mcp ARGS`` (or ``command`` ARGS) as the official Python client
    does, list its tools and make ``calls`` in order."""
    seen = Transcript()
    parameters = StdioServerParameters(
        command=command[0], args=[*command[1:], *args], env=dict(env), cwd=cwd
    )

    async def run() -> None:
        with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
            try:
                async with (
                    stdio_client(parameters, errlog=errlog) as (read, write),
                    ClientSession(read, write) as session,
                ):
                    await _session(session, calls, seen)
            finally:
                errlog.seek(0)
                seen.stderr = errlog.read()

    anyio.run(run)
    return seen


def over_http(url: str, token: str, calls: Sequence[Call] = ()) -> Transcript:
    """The official Python client over Streamable HTTP with the bearer token."""
    seen = Transcript()

    async def run() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=60) as client,
            streamable_http_client(url, http_client=client) as (read, write),
            ClientSession(read, write) as session,
        ):
            await _session(session, calls, seen)

    anyio.run(run)
    return seen


@dataclass
class HttpServer:
    """A ``twilio-component mcp --http`` process: its URL, and what it printed on stderr."""

    process: subprocess.Popen[str]
    url: str
    log: Path

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8")


@contextmanager
def http_server(args: Sequence[str], env: Mapping[str, str], folder: Path) -> Iterator[HttpServer]:
    """``twilio-component mcp --http 127.0.0.1:0 ARGS``, until the block ends (then SIGINT)."""
    log = folder / "mcp-http.err"
    with log.open("w", encoding="utf-8") as err:
        process = subprocess.Popen(
            [*SERVER, "--http", "127.0.0.1:0", *args],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
        )
    try:
        deadline = time.monotonic() + 60
        url = None
        while url is None:
            found = re.search(r"http://127\.0\.0\.1:\d+/mcp", log.read_text(encoding="utf-8"))
            url = found.group(0) if found else None
            if url is None and (process.poll() is not None or time.monotonic() > deadline):
                raise AssertionError(f"mcp --http did not start: {log.read_text()}")
            if url is None:
                time.sleep(0.05)
        yield HttpServer(process, url, log)
    finally:
        process.send_signal(2)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def node_peer() -> Path:
    """The TypeScript SDK client, installed from the npm registry on first use (``npm ci``
    from the committed lock file; one installer at a time across test workers)."""
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed (Debian: npm)"
    assert shutil.which("node"), "Node.js is needed (Debian: nodejs)"
    with (NODE_PEER / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (NODE_PEER / "node_modules" / "@modelcontextprotocol" / "sdk").is_dir():
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=NODE_PEER,
                check=True,
                capture_output=True,
                timeout=600,
            )
    return NODE_PEER / "client.mjs"


def over_node(plan: Mapping[str, Any]) -> dict[str, Any]:
    """Run the TypeScript SDK client with ``plan`` (see client.mjs); what it printed."""
    client = node_peer()
    done = subprocess.run(
        ["node", str(client)],
        input=json.dumps(plan),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def text(result: CallToolResult) -> str:
    """The text of a tool result (its one text block)."""
    block = result.content[0]
    assert isinstance(block, TextContent), block
    return block.text
