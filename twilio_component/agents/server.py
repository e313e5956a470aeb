"""The Model Context Protocol server of a toolbox, on the official ``mcp`` SDK (the ``[mcp]``
extra): over stdio, or Streamable HTTP at ``/mcp`` behind a bearer token."""

from __future__ import annotations

import hmac
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import mcp_types as types
from mcp.server import Server
from mcp.shared.exceptions import MCPError

from twilio_component.agents.tools import Tool, Toolbox

if TYPE_CHECKING:
    from mcp.server.context import ServerRequestContext

__all__ = ["HTTP_PATH", "build_server", "serve_http", "serve_stdio"]

#: Where the Streamable HTTP endpoint is.
HTTP_PATH = "/mcp"

_INSTRUCTIONS = (
    "Each tool runs one action of a workflow component. Arguments are checked before anything "
    "is sent; an error names every problem and says whether anything was sent. Give sending "
    "tools an idempotencyKey so that a retry never sends twice. The server caps how many "
    "sends it makes."
)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def build_server(toolbox: Toolbox, *, name: str, version: str) -> Server[Any]:
    """An MCP server listing ``toolbox``'s tools and calling them (each call in a thread: a
    send blocks on its HTTP request, the server's loop does not)."""
    listing = types.ListToolsResult(tools=[_definition(tool) for tool in toolbox.tools])

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return listing

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        if toolbox.tool(params.name) is None:
            known = ", ".join(tool.name for tool in toolbox.tools)
            raise MCPError(types.INVALID_PARAMS, f"no tool {params.name!r}; tools: {known}")
        outcome = await anyio.to_thread.run_sync(toolbox.call, params.name, params.arguments)
        content: list[types.ContentBlock] = [types.TextContent(text=outcome.text)]
        if outcome.error is not None:
            return types.CallToolResult(content=content, is_error=True)
        return types.CallToolResult(content=content, structured_content=outcome.output)

    return Server(
        name,
        version=version,
        instructions=_INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _definition(tool: Tool) -> types.Tool:
    return types.Tool(
        name=tool.name,
        title=tool.title,
        description=tool.description,
        input_schema=dict(tool.input_schema),
        output_schema=dict(tool.output_schema),
        annotations=types.ToolAnnotations(
            title=tool.title,
            read_only_hint=tool.read_only,
            destructive_hint=tool.destructive,
            idempotent_hint=tool.idempotent,
            open_world_hint=tool.open_world,
        ),
    )


def serve_stdio(server: Server[Any]) -> None:
    """Serve one client on this process's stdin and stdout until it closes them."""
    from mcp.server.stdio import stdio_server

    async def serve() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(serve)


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host:port`` (port 0: a free one); OSError when it cannot."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def serve_http(
    server: Server[Any],
    sock: socket.socket,
    *,
    token: str,
    host: str,
) -> None:
    """Serve Streamable HTTP at ``HTTP_PATH`` on a listening socket until interrupted; every
    request needs ``Authorization: Bearer <token>`` (401 without it)."""
    import uvicorn

    app = bearer_only(server.streamable_http_app(streamable_http_path=HTTP_PATH, host=host), token)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


def bearer_only(app: ASGIApp, token: str) -> ASGIApp:
    """``app`` for HTTP requests that carry the bearer ``token``; 401 for the others."""
    expected = token.encode()

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or ()).get(b"authorization", b"")
            scheme, _, credentials = given.strip().partition(b" ")
            bearer = scheme.lower() == b"bearer"  # the scheme is case-insensitive (RFC 9110)
            if not (hmac.compare_digest(credentials.strip(), expected) and bearer):
                await _unauthorized(send)
                return
        await app(scope, receive, send)

    return guarded


async def _unauthorized(send: Send) -> None:
    body = b'{"error": "unauthorized: this server needs Authorization: Bearer <token>"}'
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b'Bearer realm="mcp"'),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
