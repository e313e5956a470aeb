"""Proxy and CA settings from the environment still work, though read once per Host.

A proxy carries only https to another machine (see tests/test_proxy.py): the loopback sandbox
is reached directly even with a working forward proxy in HTTP_PROXY.
"""

from __future__ import annotations

import http.client
import http.server
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from conftest import sms_step

from twilio_component.host import Host
from twilio_component.sandbox import Sandbox
from twilio_component.twilio.client import TwilioClient
from twilio_component.twilio.settings import Settings


class ForwardProxy(http.server.ThreadingHTTPServer):
    """A plain-http forward proxy on loopback that records the absolute URLs it relays."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        super().__init__(("127.0.0.1", 0), _Relay)


class _Relay(http.server.BaseHTTPRequestHandler):
    server: ForwardProxy

    def do_POST(self) -> None:
        self.server.seen.append(self.path)
        target = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        upstream = http.client.HTTPConnection(target.hostname or "", target.port, timeout=5)
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in ("proxy-connection", "connection")
        }
        upstream.request("POST", target.path, body=body, headers=headers)
        answer = upstream.getresponse()
        payload = answer.read()
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.getheader("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        upstream.close()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    server = ForwardProxy()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_a_working_http_proxy_is_not_used_for_the_loopback_sandbox(
    proxy: ForwardProxy, twilio_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with Host.load(Settings(base_url=twilio_sandbox.base_url)) as host:
        host.execute(sms_step(), connection=twilio_sandbox.connection)
        host.execute(sms_step(), connection=twilio_sandbox.connection)
    assert proxy.seen == []
    assert len(twilio_sandbox.messages) == 2


def test_no_proxy_drops_the_https_proxy_for_the_api_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "example.com,api.twilio.com")
    client = TwilioClient(Settings(base_url="https://api.twilio.com"))
    assert client._transport._send_options["proxies"] == {}
    client.close()


def test_https_proxy_and_ca_bundle_are_resolved_for_the_api_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/our-test-bundle.pem")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = TwilioClient(Settings(base_url="https://api.twilio.com"))
    options = client._transport._send_options
    assert options["proxies"] == {"https": "http://127.0.0.1:3128"}
    assert options["verify"] == "/etc/ssl/certs/our-test-bundle.pem"
    client.close()
