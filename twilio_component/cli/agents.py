"""``mcp``: every installed component action as a Model Context Protocol tool for AI agents,
over stdio or Streamable HTTP (the ``[mcp]`` extra)."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import tempfile
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from twilio_component.cli.arguments import network_options
from twilio_component.cli.console import EPILOG, EXIT_OK, Console, UsageError
from twilio_component.cli.target import target

if TYPE_CHECKING:
    from twilio_component.agents import Tool
    from twilio_component.cli.target import Connections
    from twilio_component.host import Host

#: Where ``--http`` reads the bearer token every client must send.
TOKEN_VARIABLE = "TWILIO_COMPONENT_MCP_TOKEN"  # noqa: S105 (a variable name, not a token)
DEFAULT_MAX_SENDS = 20

_EXAMPLES = f"""\
examples:
  twilio-component mcp --sandbox                  # try it: stdio, nothing reaches a phone
  twilio-component mcp --journal agent.db --tools twilio_sendSMS,twilio_getMessage
  {TOKEN_VARIABLE}=$(openssl rand -hex 32) twilio-component mcp --http 127.0.0.1:8765

A client runs the stdio server as a command, e.g. in its configuration:
  {{"command": "twilio-component", "args": ["mcp", "--journal", "agent.db"],
   "env": {{"TWILIO_ACCOUNT_SID": "AC…", "TWILIO_AUTH_TOKEN": "…"}}}}

safety:
  arguments are checked before anything is sent (a tool error names every problem);
  idempotencyKey: the same key again returns the first output and sends nothing (kept in
  --journal across restarts, else for the life of the server);
  --max-sends caps the sends of one server process; --tools exposes only the tools named;
  secrets never appear in results, errors or logs.
"""


def add(commands: Any) -> None:
    """The mcp command."""
    parser = commands.add_parser(
        "mcp",
        help="serve every component action as a tool to AI agents (Model Context Protocol)",
        description="Serve every installed component's actions as Model Context Protocol tools "
        "named {component}_{action} (twilio_sendSMS, twilio_lookupPhoneNumber, ...), over stdio "
        f"(default) or Streamable HTTP at /mcp with --http (a bearer token from "
        f"${TOKEN_VARIABLE} required). Needs the [mcp] extra.",
        epilog=_EXAMPLES + "\n" + EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--tools",
        type=names,
        metavar="NAME,...",
        help="expose only these tools (comma-separated, e.g. twilio_sendSMS,twilio_getMessage)",
    )
    parser.add_argument(
        "--max-sends",
        type=cap,
        default=DEFAULT_MAX_SENDS,
        metavar="N",
        help=f"at most N sends (calls of tools that are not read-only) by this server process; "
        f"past it, a tool error (default {DEFAULT_MAX_SENDS}; 0: no cap)",
    )
    parser.add_argument(
        "--http",
        type=address,
        metavar="[HOST:]PORT",
        help=f"serve Streamable HTTP at http://HOST:PORT/mcp instead of stdio (HOST defaults to "
        f"127.0.0.1; PORT 0 picks a free one); every request needs Authorization: Bearer "
        f"${TOKEN_VARIABLE}",
    )
    network_options(parser)
    parser.set_defaults(handler=serve)


def names(text: str) -> list[str]:
    """``--tools``: comma-separated tool names, at least one."""
    listed = [name.strip() for name in text.split(",") if name.strip()]
    if not listed:
        raise argparse.ArgumentTypeError("name at least one tool, e.g. twilio_sendSMS")
    return listed


def cap(text: str) -> int:
    """``--max-sends``: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 0 or more")
    return value


def address(text: str) -> tuple[str, int]:
    """``--http``: ``[HOST:]PORT`` (an IPv6 host in brackets)."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected [HOST:]PORT, e.g. 127.0.0.1:8765 or 8765 (0: a free port)"
        )
    return host, int(port)


def serve(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    """mcp: serve the tools until the client goes (stdio) or until interrupted (HTTP)."""
    try:
        from twilio_component.agents import server
    except ImportError as error:
        raise UsageError(
            f"mcp needs the [mcp] extra ({error.name or 'mcp'} is not installed): "
            "pip install 'twilio-component[mcp]'"
        ) from None
    from twilio_component import __version__
    from twilio_component.agents import Toolbox, select, tools_of

    token = _token(args, environ, console)
    keyed = args.journal is not None
    with (
        _terminated_as_interrupt(),
        _journal(args),
        target(args, console, environ) as (
            host,
            connections,
        ),
    ):
        tools = tools_of(host, keyed=keyed)
        if args.tools is not None:
            try:
                tools = select(tools, args.tools)
            except ValueError as error:
                raise UsageError(f"--tools: {error}") from None
        toolbox = Toolbox(
            host,
            tools,
            connection_of=connections.for_component,
            max_sends=args.max_sends,
            mask=console.redact,
        )
        mcp_server = server.build_server(toolbox, name="twilio-component", version=__version__)
        _warn_unconnected(tools, host, connections, console)
        limit = f"at most {args.max_sends} sends" if args.max_sends else "no cap on sends"
        if args.http is None:
            console.problem(f"mcp: {len(tools)} tools over stdio, {limit}.")
            with contextlib.suppress(KeyboardInterrupt):
                server.serve_stdio(mcp_server)
            return EXIT_OK
        bind, port = args.http
        try:
            sock = server.listening_socket(bind, port)
        except OSError as error:
            raise UsageError(
                f"--http {bind}:{port}: cannot listen there ({error.strerror}); pick another "
                "port, or 0 for a free one"
            ) from None
        shown = f"[{bind}]" if ":" in bind else bind
        url = f"http://{shown}:{sock.getsockname()[1]}{server.HTTP_PATH}"
        console.problem(
            f"mcp: {len(tools)} tools at {url} (Authorization: Bearer ${TOKEN_VARIABLE}), "
            f"{limit}. Ctrl-C stops it."
        )
        console.err.flush()
        with contextlib.closing(sock), contextlib.suppress(KeyboardInterrupt):
            server.serve_http(mcp_server, sock, token=token or "", host=bind)
    return EXIT_OK


def _token(args: argparse.Namespace, environ: Mapping[str, str], console: Console) -> str | None:
    """The bearer token ``--http`` needs (a usage error without one); hidden from output."""
    if args.http is None:
        return None
    token = environ.get(TOKEN_VARIABLE, "")
    if not token.strip():
        raise UsageError(
            f"--http needs a bearer token every client must send: set {TOKEN_VARIABLE}, "
            f"e.g. {TOKEN_VARIABLE}=$(openssl rand -hex 32)"
        )
    console.secrets.append(token)
    return token


@contextlib.contextmanager
def _terminated_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the server as Ctrl-C does: cleanly, its own journal folder removed."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        earlier = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (main() called from a test's thread)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, earlier)


@contextlib.contextmanager
def _journal(args: argparse.Namespace) -> Iterator[None]:
    """Without ``--journal``, idempotency keys are kept for the life of the server, in a
    journal of its own that is removed when it stops."""
    if args.journal is not None:
        yield
        return
    folder = tempfile.mkdtemp(prefix="twilio-component-mcp-")
    args.journal = f"{folder}/keys.db"
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _warn_unconnected(
    tools: list[Tool], host: Host, connections: Connections, console: Console
) -> None:
    """Say, at start, which components' tools cannot run yet for want of a connection."""
    seen: set[str] = set()
    for tool in tools:
        component = host.component_of(tool.step_type)
        kind = component.descriptor.type
        if kind in seen:
            continue
        seen.add(kind)
        try:
            connections.for_component(component)
        except Exception as error:  # UsageError or ConnectionConfigError: said, not fatal
            console.problem(f"mcp: {kind}'s tools answer with an error until: {error}")
