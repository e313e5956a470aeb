"""The listener's HTTP server bounds what idle or excess connections can hold: an idle one is
closed after the idle timeout, one past the cap is answered 503 at once."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from celery_workers import wait_for

from twilio_component import Host
from twilio_component.triggers.server import ThreadingWSGIServer, serve
from twilio_component.triggers.wsgi import TriggerApp

REQUEST = b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.fixture
def server() -> Iterator[ThreadingWSGIServer]:
    with Host.load() as host:
        app = TriggerApp(host, connections={}, on_events=lambda kind, events: None, routes={})
        with serve(app, "127.0.0.1", 0, idle_timeout=0.5, max_connections=3) as running:
            yield running


def connect(server: ThreadingWSGIServer) -> socket.socket:
    host, port = str(server.server_address[0]), int(server.server_address[1])
    return socket.create_connection((host, port), timeout=10)


def answer(server: ThreadingWSGIServer) -> bytes:
    with connect(server) as client:
        client.sendall(REQUEST)
        return client.recv(64)


def closed_by_the_server(client: socket.socket) -> bool:
    try:
        return client.recv(1) == b""
    except TimeoutError:
        return False


def test_a_connection_past_the_cap_is_answered_503_at_once(server: ThreadingWSGIServer) -> None:
    idle = [connect(server) for _ in range(3)]
    try:
        wait_for(lambda: answer(server).startswith(b"HTTP/1.1 503"), 10, "a 503 past the cap")
    finally:
        for client in idle:
            client.close()


def test_an_idle_connection_is_closed_and_its_place_given_back(
    server: ThreadingWSGIServer,
) -> None:
    idle = [connect(server) for _ in range(3)]
    for client in idle:
        client.settimeout(10)
    assert all(closed_by_the_server(client) for client in idle)
    wait_for(lambda: answer(server).startswith(b"HTTP/1.0 404"), 10, "a place to be free")
    for client in idle:
        client.close()
