"""The sandbox's HTTP/1.1 server: a lean keep-alive loopback server with a thread per connection.

It only speaks the wire protocol; what to answer is decided by an application callable
(`Request` in, `Reply` out). A reply can also ask to wait first or to drop the connection
without answering, which is how the sandbox's faults are played, or stream its body as it is
produced (chunked), which is how the console's server-sent events reach the browser.
"""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import BinaryIO, cast

__all__ = ["HTTPServer", "Reply", "Request"]

MAX_LINE = 65_536
MAX_HEADERS = 100
MAX_BODY = 4 * 1024 * 1024
IDLE_TIMEOUT = 120.0

_REASONS = {status.value: status.phrase for status in HTTPStatus}


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request as read from the wire; header names are lower-case."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    version: str = "HTTP/1.1"

    @property
    def path(self) -> str:
        """The target without its query string."""
        return self.target.partition("?")[0]

    @property
    def query_string(self) -> str:
        """The raw query string ("" when there is none)."""
        return self.target.partition("?")[2]


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer: a status, a body and headers; or, with `drop`, nothing at all."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = field(default=())
    delay: float = 0.0
    """Seconds to wait before answering (or dropping); cut short when the server stops."""
    drop: bool = False
    """Close the connection without answering."""
    stream: Iterator[bytes] | None = None
    """A body written piece by piece as the iterator yields it (then `body` is ignored).

    HTTP/1.1 gets it chunked, HTTP/1.0 gets it raw then the connection closes. The server
    checks between pieces whether it is stopping, so an iterator with nothing to say should
    yield b"" now and then (an empty piece writes nothing). The iterator's ``close()``, when
    it has one, is called once the stream ends, however it ends.
    """


class BadRequest(Exception):
    """The bytes on the wire are not an HTTP/1.x request we can serve."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


App = Callable[[Request], Reply]


class HTTPServer(socketserver.ThreadingTCPServer):
    """Threaded TCP server whose connections speak HTTP/1.1 with keep-alive to `app`."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, host: str, port: int, app: App) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.app = app
        self.stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__((host, port), _Connection)

    @property
    def port(self) -> int:
        """The bound port (useful when asked for port 0)."""
        return int(self.server_address[1])

    def track(self, sock: socket.socket, alive: bool) -> None:
        """Remember (or forget) an open connection so that stop() can close it."""
        with self._open_lock:
            if alive:
                self._open.add(sock)
            else:
                self._open.discard(sock)

    def close_connections(self) -> None:
        """Stop every open connection: pending waits end and idle keep-alive reads return."""
        self.stopping.set()
        with self._open_lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Connection(socketserver.BaseRequestHandler):
    server: HTTPServer
    request: socket.socket

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request.settimeout(IDLE_TIMEOUT)
        self.server.track(self.request, alive=True)
        self.rfile = cast(BinaryIO, self.request.makefile("rb", buffering=65_536))

    def finish(self) -> None:
        self.server.track(self.request, alive=False)
        self.rfile.close()

    def handle(self) -> None:
        sock = self.request
        server = self.server
        while not server.stopping.is_set():
            try:
                parsed = _read_request(self.rfile, sock)
            except BadRequest as error:
                _send(sock, _plain_reply(error.status, str(error)), keep_alive=False)
                return
            except (OSError, ValueError):
                return
            if parsed is None:
                return
            request, keep_alive = parsed
            reply = server.app(request)
            if reply.delay > 0 and server.stopping.wait(reply.delay):
                _close_stream(reply)
                return
            if reply.drop:
                _close_stream(reply)
                return
            try:
                if reply.stream is not None:
                    streamed = _stream(
                        sock, reply, request.version, server.stopping, keep_alive=keep_alive
                    )
                    if not streamed:
                        return
                else:
                    _send(sock, reply, keep_alive=keep_alive)
            except OSError:
                return
            if not keep_alive:
                return


def _read_request(rfile: BinaryIO, sock: socket.socket) -> tuple[Request, bool] | None:
    """The next request and whether the connection stays open after it; None at a clean EOF."""
    line = rfile.readline(MAX_LINE + 1)
    while line in (b"\r\n", b"\n"):  # tolerate stray blank lines between requests
        line = rfile.readline(MAX_LINE + 1)
    if not line:
        return None
    if len(line) > MAX_LINE:
        raise BadRequest(414, "request line too long")
    parts = line.decode("latin-1").split()
    if len(parts) != 3:
        raise BadRequest(400, "malformed request line")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise BadRequest(505, "only HTTP/1.0 and HTTP/1.1 are spoken here")
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS):
        raw = rfile.readline(MAX_LINE + 1)
        if raw in (b"\r\n", b"\n", b""):
            break
        if len(raw) > MAX_LINE:
            raise BadRequest(431, "header line too long")
        name, colon, value = raw.decode("latin-1").partition(":")
        if not colon or not name.strip():
            raise BadRequest(400, "malformed header line")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    else:
        raise BadRequest(431, "too many headers")
    connection = headers.get("connection", "").lower()
    keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
    if headers.get("expect", "").lower() == "100-continue":
        sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    body = _read_body(rfile, headers)
    if body is None:
        return None
    return Request(method, target, headers, body, version), keep_alive


def _read_body(rfile: BinaryIO, headers: dict[str, str]) -> bytes | None:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _read_chunked(rfile)
    length_text = headers.get("content-length")
    if length_text is None:
        return b""
    if not length_text.isdigit():
        raise BadRequest(400, "bad Content-Length")
    length = int(length_text)
    if length > MAX_BODY:
        raise BadRequest(413, "request body too large")
    body = rfile.read(length) if length else b""
    return body if len(body) == length else None


def _read_chunked(rfile: BinaryIO) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = rfile.readline(MAX_LINE + 1)
        try:
            size = int(size_line.split(b";")[0].strip(), 16)
        except ValueError:
            raise BadRequest(400, "bad chunk size") from None
        if size == 0:
            while rfile.readline(MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
                pass  # trailers are ignored
            return b"".join(chunks)
        total += size
        if total > MAX_BODY:
            raise BadRequest(413, "request body too large")
        chunks.append(rfile.read(size))
        rfile.readline(MAX_LINE + 1)


class _DateHeader:
    """The Date header value, formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def value(self) -> str:
        second = int(time.time())
        if second != self._second:
            self._value = formatdate(second, usegmt=True)
            self._second = second
        return self._value


_date = _DateHeader()


def _send(sock: socket.socket, reply: Reply, *, keep_alive: bool) -> None:
    head = _head(reply, f"Content-Length: {len(reply.body)}", keep_alive=keep_alive)
    sock.sendall(head + reply.body)


def _stream(
    sock: socket.socket,
    reply: Reply,
    version: str,
    stopping: threading.Event,
    *,
    keep_alive: bool,
) -> bool:
    """Write a streamed reply; whether the connection may serve another request after it.

    False when the server is stopping, when the client asked to close, and for HTTP/1.0
    (the body is not chunked there, so it ends with the connection).
    """
    assert reply.stream is not None
    chunked = version == "HTTP/1.1"
    framing = "Transfer-Encoding: chunked" if chunked else None
    keep_alive = keep_alive and chunked
    try:
        sock.sendall(_head(reply, framing, keep_alive=keep_alive))
        for piece in reply.stream:
            if stopping.is_set():
                return False
            if piece:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
        return keep_alive
    finally:
        _close_stream(reply)


def _close_stream(reply: Reply) -> None:
    close = getattr(reply.stream, "close", None)
    if callable(close):
        close()


def _head(reply: Reply, framing: str | None, *, keep_alive: bool) -> bytes:
    lines = [
        f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Unknown')}",
        f"Date: {_date.value()}",
        f"Content-Type: {reply.content_type}",
    ]
    if framing is not None:
        lines.append(framing)
    lines += [
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
        f"Twilio-Request-Id: RQ{os.urandom(16).hex()}",
    ]
    lines.extend(f"{name}: {value}" for name, value in reply.headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _plain_reply(status: int, reason: str) -> Reply:
    return Reply(status, f"{reason}\n".encode(), content_type="text/plain; charset=utf-8")
