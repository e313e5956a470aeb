"""Specification of the sandbox server's streamed replies: chunked, keep-alive, ended by a stop."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from twilio_component.sandbox.server import HTTPServer, Reply, Request


@dataclass
class Pieces:
    """A stream body that remembers whether the server closed it."""

    items: list[bytes]
    endless: bool = False
    closed: threading.Event = field(default_factory=threading.Event)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self.items:
            return self.items.pop(0)
        if self.endless:
            self.closed.wait(0.05)
            return b""
        raise StopIteration

    def close(self) -> None:
        self.closed.set()


class App:
    """Streams `stream` for /stream, answers a plain "plain" otherwise."""

    def __init__(self, stream: Pieces) -> None:
        self.stream = stream

    def __call__(self, request: Request) -> Reply:
        if request.path == "/stream":
            return Reply(200, content_type="text/event-stream", stream=self.stream)
        return Reply(200, b"plain", content_type="text/plain")


class Served:
    """An HTTPServer on loopback serving App, and raw sockets to talk to it."""

    def __init__(self, stream: Pieces) -> None:
        self.server = HTTPServer("127.0.0.1", 0, App(stream))
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.server.port), timeout=5)

    def stop(self) -> None:
        self.server.close_connections()
        self.server.shutdown()
        self.server.server_close()


def serve(stream: Pieces) -> Iterator[tuple[Served, Pieces]]:
    served = Served(stream)
    try:
        yield served, stream
    finally:
        served.stop()


@pytest.fixture
def finite() -> Iterator[tuple[Served, Pieces]]:
    yield from serve(Pieces([b"data: one\n\n", b"", b"data: two\n\n"]))


@pytest.fixture
def endless() -> Iterator[tuple[Served, Pieces]]:
    yield from serve(Pieces([b": connected\n\n"], endless=True))


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    """Everything received until `marker` shows up after the head (or the server hangs up)."""
    received = b""
    while marker not in received.partition(b"\r\n\r\n")[2]:
        chunk = sock.recv(65_536)
        if not chunk:
            break
        received += chunk
    return received


def read_to_eof(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65_536):
        received += chunk
    return received


GET_STREAM_11 = b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"


def test_a_streamed_reply_is_sent_chunked_without_a_content_length(
    finite: tuple[Served, Pieces],
) -> None:
    served, _ = finite
    with served.connect() as sock:
        sock.sendall(GET_STREAM_11)
        raw = read_until(sock, b"0\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert b"Content-Length" not in head
    assert body == b"b\r\ndata: one\n\n\r\nb\r\ndata: two\n\n\r\n0\r\n\r\n"


def test_an_empty_piece_writes_nothing_not_even_an_empty_chunk(
    finite: tuple[Served, Pieces],
) -> None:
    served, _ = finite
    with served.connect() as sock:
        sock.sendall(GET_STREAM_11)
        body = read_until(sock, b"0\r\n\r\n").partition(b"\r\n\r\n")[2]
    assert body.count(b"0\r\n\r\n") == 1
    assert body.endswith(b"0\r\n\r\n")


def test_the_connection_stays_open_for_the_next_request_after_a_stream_ends(
    finite: tuple[Served, Pieces],
) -> None:
    served, _ = finite
    with served.connect() as sock:
        sock.sendall(GET_STREAM_11)
        read_until(sock, b"0\r\n\r\n")
        sock.sendall(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_until(sock, b"plain").endswith(b"plain")


def test_a_client_asking_to_close_gets_the_stream_then_the_connection_closes(
    finite: tuple[Served, Pieces],
) -> None:
    served, _ = finite
    with served.connect() as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        raw = read_to_eof(sock)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Connection: close" in head
    assert body.endswith(b"0\r\n\r\n")


def test_an_http_1_0_client_gets_the_stream_raw_then_the_connection_closes(
    finite: tuple[Served, Pieces],
) -> None:
    served, _ = finite
    with served.connect() as sock:
        sock.sendall(b"GET /stream HTTP/1.0\r\n\r\n")
        raw = read_to_eof(sock)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Connection: close" in head
    assert b"chunked" not in head
    assert body == b"data: one\n\ndata: two\n\n"


def test_the_server_closes_the_stream_once_it_has_run_to_its_end(
    finite: tuple[Served, Pieces],
) -> None:
    served, stream = finite
    with served.connect() as sock:
        sock.sendall(GET_STREAM_11)
        read_until(sock, b"0\r\n\r\n")
    assert stream.closed.wait(5)


def test_stopping_the_server_ends_an_endless_stream_and_closes_it(
    endless: tuple[Served, Pieces],
) -> None:
    served, stream = endless
    with served.connect() as sock:
        sock.sendall(GET_STREAM_11)
        assert b": connected" in read_until(sock, b": connected")
        served.server.close_connections()
        read_to_eof(sock)  # returns: the server hung up (the socket's timeout is 5 s)
    assert stream.closed.wait(5)


def test_a_client_that_goes_away_gets_its_stream_closed(
    endless: tuple[Served, Pieces],
) -> None:
    served, stream = endless
    stream.items.extend([b"data: x\n\n"] * 50_000)  # enough to fill the socket buffers
    sock = served.connect()
    sock.sendall(GET_STREAM_11)
    read_until(sock, b"data: x")
    sock.close()
    assert stream.closed.wait(5)
