"""The HTTP server a listener serves its WSGI app with: the standard library's ``wsgiref``,
a thread per connection, an idle timeout and a cap on connections, stopped by SIGINT/SIGTERM."""

from __future__ import annotations

import contextlib
import signal
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from twilio_component.triggers.wsgi import TriggerApp

__all__ = ["IDLE_TIMEOUT", "MAX_CONNECTIONS", "ThreadingWSGIServer", "serve", "stop_signals"]

#: Seconds a connection may sit idle before it is closed (a webhook sends at once).
IDLE_TIMEOUT = 30.0
#: Connections served at once; one more is answered 503 and closed (Twilio tries again).
MAX_CONNECTIONS = 256
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\n"
    b"Connection: close\r\n\r\n"
)


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per connection, at most ``max_connections`` at once;
    threads do not hold up shutdown."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    #: Seconds a connection may sit idle (read by each connection's handler).
    idle_timeout = IDLE_TIMEOUT

    def server_activate(self) -> None:
        self.limit(MAX_CONNECTIONS)
        super().server_activate()

    def limit(self, connections: int) -> None:
        """Serve at most ``connections`` at once (before serving starts)."""
        self._places = threading.BoundedSemaphore(connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve the connection in a thread of its own, or answer 503 when all are taken."""
        if not self._places.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.sendall(_BUSY)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._places.release()


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr (stdout carries one JSON line per run); an idle connection is
    closed after the server's ``idle_timeout``."""

    server: ThreadingWSGIServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle_timeout)

    def log_message(self, format: str, *args: Any) -> None:
        """Nothing: see the class."""

    def handle(self) -> None:
        with contextlib.suppress(socket.timeout, TimeoutError):  # an idle connection, closed
            super().handle()


@contextmanager
def serve(
    app: TriggerApp,
    host: str,
    port: int,
    *,
    idle_timeout: float = IDLE_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
) -> Iterator[ThreadingWSGIServer]:
    """The server, listening and serving in a background thread until the block ends; a
    connection idle for ``idle_timeout`` seconds is closed, and past ``max_connections`` at
    once a connection is answered 503."""
    server = make_server(
        host, port, app, server_class=ThreadingWSGIServer, handler_class=_QuietHandler
    )
    assert isinstance(server, ThreadingWSGIServer)
    server.idle_timeout = idle_timeout
    server.limit(max_connections)
    thread = threading.Thread(target=server.serve_forever, name="listen", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def stop_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM (in the main thread); the old handlers come back."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, frame: stop.set())
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
