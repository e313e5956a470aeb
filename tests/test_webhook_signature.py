"""verify_signature against real webhooks: the sandbox's status callbacks and Twilio's vector."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from conftest import FROM, TO
from twilio.request_validator import RequestValidator

from twilio_component import compute_signature, verify_signature
from twilio_component.sandbox import Sandbox


@dataclass(frozen=True)
class Webhook:
    """One request as a webhook receiver saw it."""

    url: str
    signature: str
    form: dict[str, list[str]]


class Receiver(BaseHTTPRequestHandler):
    received: list[Webhook]
    base: str

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        self.received.append(
            Webhook(
                self.base + self.path,
                self.headers.get("X-Twilio-Signature", ""),
                parse_qs(body, keep_blank_values=True),
            )
        )
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def callbacks(twilio_sandbox: Sandbox) -> Iterator[list[Webhook]]:
    """The status callbacks of one message sent to the sandbox with a loopback StatusCallback."""
    received: list[Webhook] = []

    class Handler(Receiver):
        pass

    Handler.received = received
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Handler.base = base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        answer = requests.post(
            f"{twilio_sandbox.base_url}/2010-04-01/Accounts/{twilio_sandbox.account_sid}"
            "/Messages.json",
            data={
                "To": TO,
                "From": FROM,
                "Body": "signed",
                "StatusCallback": f"{base}/status?tenant=a%20b&x=1",
            },
            auth=(twilio_sandbox.account_sid, twilio_sandbox.auth_token),
            timeout=5,
        )
        assert answer.status_code == 201
        twilio_sandbox.settle()
        yield received
    finally:
        server.shutdown()
        server.server_close()


def test_every_status_callback_of_the_sandbox_verifies(
    callbacks: list[Webhook], twilio_sandbox: Sandbox
) -> None:
    statuses = [hook.form["MessageStatus"][0] for hook in callbacks]
    assert statuses[-1] == "delivered"
    for hook in callbacks:
        assert verify_signature(twilio_sandbox.auth_token, hook.signature, hook.url, hook.form)


def test_the_official_validator_agrees_on_the_sandbox_callbacks(
    callbacks: list[Webhook], twilio_sandbox: Sandbox
) -> None:
    validator = RequestValidator(twilio_sandbox.auth_token)
    for hook in callbacks:
        flat = {name: values[0] for name, values in hook.form.items()}
        assert validator.validate(hook.url, flat, hook.signature)


def test_a_tampered_callback_is_refused(callbacks: list[Webhook], twilio_sandbox: Sandbox) -> None:
    hook = callbacks[-1]
    forged = {**hook.form, "MessageStatus": ["failed"]}
    assert not verify_signature(twilio_sandbox.auth_token, hook.signature, hook.url, forged)


def test_a_callback_checked_with_another_token_is_refused(callbacks: list[Webhook]) -> None:
    hook = callbacks[-1]
    assert not verify_signature("another-token", hook.signature, hook.url, hook.form)


def test_a_callback_checked_against_another_url_is_refused(
    callbacks: list[Webhook], twilio_sandbox: Sandbox
) -> None:
    hook = callbacks[-1]
    elsewhere = hook.url.replace("127.0.0.1", "localhost")
    assert not verify_signature(twilio_sandbox.auth_token, hook.signature, elsewhere, hook.form)
    without_query = hook.url.partition("?")[0]
    assert not verify_signature(twilio_sandbox.auth_token, hook.signature, without_query, hook.form)


def test_a_missing_or_garbled_signature_is_refused_without_error(
    callbacks: list[Webhook], twilio_sandbox: Sandbox
) -> None:
    hook = callbacks[-1]
    for signature in ("", "not base64 ✗", hook.signature[:-2]):
        assert not verify_signature(twilio_sandbox.auth_token, signature, hook.url, hook.form)


def test_twilios_published_vector_verifies_through_the_public_api() -> None:
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    assert verify_signature("12345", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", url, params)


def test_a_json_webhook_verifies_by_its_body_hash() -> None:
    body = b'{"MessageStatus":"delivered"}'
    url = "https://example.com/hook?bodySHA256=" + hashlib.sha256(body).hexdigest()
    signature = compute_signature("12345", url)
    assert verify_signature("12345", signature, url, body=body)
    assert not verify_signature("12345", signature, url, body=body.replace(b"deliv", b"fail"))
