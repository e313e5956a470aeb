"""Proxies never see a request in clear: loopback and plain http bypass them, https tunnels.

A recording proxy on loopback keeps every byte it receives and refuses everything (502). While
these tests run, an audit hook refuses any connection or name lookup that would leave the
machine, so a regression fails here instead of sending traffic anywhere.
"""

from __future__ import annotations

import base64
import re
import socket
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import no_sleep, sms_step

from twilio_component.host import Host
from twilio_component.sandbox import Sandbox
from twilio_component.settings import RetryPolicy
from twilio_component.twilio.endpoint import is_loopback
from twilio_component.twilio.errors import RequestNotSentError
from twilio_component.twilio.settings import Settings

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
#: An https API root on another machine; ``.invalid`` never resolves (RFC 6761), and the
#: guard below refuses to look it up or connect to it anyway.
REMOTE_BASE_URL = "https://api.twilio.invalid"
ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "a-secret-auth-token-of-32-chars!"

_LOOPBACK_ONLY = threading.Event()


def _refuse_leaving_the_machine(event: str, args: tuple[Any, ...]) -> None:
    if not _LOOPBACK_ONLY.is_set():
        return
    host: object = None
    if event == "socket.getaddrinfo":
        host = args[0]
    elif event == "socket.connect" and isinstance(args[1], tuple):
        host = args[1][0]
    else:
        return
    name = host.decode() if isinstance(host, bytes) else host
    if isinstance(name, str) and not is_loopback(name):
        raise socket.gaierror(socket.EAI_NONAME, f"test guard: {name} is not loopback")


sys.addaudithook(_refuse_leaving_the_machine)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No proxy variable from outside, and nothing but loopback reachable."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    _LOOPBACK_ONLY.set()
    try:
        yield
    finally:
        _LOOPBACK_ONLY.clear()


class RecordingProxy:
    """A loopback server that records every byte of every connection and answers 502."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._records: list[bytearray] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def connections(self) -> list[bytes]:
        """What each connection made to the proxy sent, in the order they were accepted."""
        with self._lock:
            return [bytes(record) for record in self._records]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        """Record each chunk as it arrives, so the head is recorded before the 502 is sent."""
        data = bytearray()
        with self._lock:
            self._records.append(data)
        with connection:
            connection.settimeout(5)
            try:
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(65_536)
                    if not chunk:
                        break
                    with self._lock:
                        data += chunk
                connection.sendall(
                    b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
                connection.settimeout(0.2)
                while chunk := connection.recv(65_536):  # anything after the head, too
                    with self._lock:
                        data += chunk
            except OSError:
                pass


@pytest.fixture
def proxy() -> Iterator[RecordingProxy]:
    recording = RecordingProxy()
    try:
        yield recording
    finally:
        recording.close()


def one_attempt(base_url: str) -> Settings:
    return Settings(base_url=base_url, retry=RetryPolicy(max_attempts=1, sleep=no_sleep))


@pytest.mark.parametrize(
    "variables",
    [("HTTP_PROXY",), ("HTTPS_PROXY",), ("ALL_PROXY",), ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")],
    ids="+".join,
)
def test_a_loopback_base_url_never_goes_through_a_proxy(
    variables: tuple[str, ...],
    proxy: RecordingProxy,
    twilio_sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in variables:
        monkeypatch.setenv(name, proxy.url)
    with Host.load(one_attempt(twilio_sandbox.base_url)) as host:
        output = host.execute(sms_step(), connection=twilio_sandbox.connection)
    assert [m["sid"] for m in twilio_sandbox.messages] == [output["sid"]]
    assert proxy.connections == []


def test_loopback_bypasses_the_proxy_even_when_no_proxy_names_other_hosts(
    proxy: RecordingProxy, twilio_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALL_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "api.twilio.com")
    with Host.load(one_attempt(twilio_sandbox.base_url)) as host:
        host.execute(sms_step(), connection=twilio_sandbox.connection)
    assert len(twilio_sandbox.messages) == 1
    assert proxy.connections == []


def test_https_through_the_https_proxy_is_a_connect_tunnel_without_credentials(
    proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    connection = {"username": ACCOUNT_SID, "password": AUTH_TOKEN}
    with (
        Host.load(one_attempt(REMOTE_BASE_URL)) as host,
        pytest.raises(RequestNotSentError, match="proxy"),
    ):
        host.execute(sms_step(), connection=connection)
    [received] = proxy.connections
    assert re.match(rb"CONNECT api\.twilio\.invalid:443 HTTP/1\.[01]\r\n", received)
    basic = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode())
    assert b"authorization" not in received.lower()
    assert basic not in received
    assert AUTH_TOKEN.encode() not in received
    assert b"Messages.json" not in received


def test_all_proxy_also_serves_https_only_as_a_connect_tunnel(
    proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALL_PROXY", proxy.url)
    connection = {"username": ACCOUNT_SID, "password": AUTH_TOKEN}
    with Host.load(one_attempt(REMOTE_BASE_URL)) as host, pytest.raises(RequestNotSentError):
        host.execute(sms_step(), connection=connection)
    [received] = proxy.connections
    assert received.startswith(b"CONNECT api.twilio.invalid:443 HTTP/")
    assert b"authorization" not in received.lower()


def test_the_http_proxy_is_never_used_for_https(
    proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    connection = {"username": ACCOUNT_SID, "password": AUTH_TOKEN}
    with (
        Host.load(one_attempt(REMOTE_BASE_URL)) as host,
        pytest.raises(RequestNotSentError, match="could not be resolved"),
    ):
        host.execute(sms_step(), connection=connection)
    assert proxy.connections == []


def test_no_proxy_sends_https_directly_instead_of_through_the_proxy(
    proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "api.twilio.invalid")
    connection = {"username": ACCOUNT_SID, "password": AUTH_TOKEN}
    with (
        Host.load(one_attempt(REMOTE_BASE_URL)) as host,
        pytest.raises(RequestNotSentError, match="could not be resolved"),
    ):
        host.execute(sms_step(), connection=connection)
    assert proxy.connections == []
