"""Calls on the sandbox: the official library places, fetches, ends and lists them; a call rings,
is answered, runs its TwiML and ends, with signed status callbacks in SequenceNumber order;
Gather posts what the recipient pressed; answers match the official description."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from conftest import FROM, TO, Cli
from openapi import assert_valid_response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from twilio_component.sandbox import Sandbox

CALLS = "/2010-04-01/Accounts/{AccountSid}/Calls.json"
CALL = "/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json"


@dataclass
class Receiver:
    """A loopback web app that records every request Twilio's sandbox makes to it and answers
    each path with the TwiML given for it (empty TwiML otherwise)."""

    url: str
    received: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box = Receiver("")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            fields = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
            signature = self.headers.get("X-Twilio-Signature", "")
            box.received.append((self.path, fields, signature))
            answer = box.answers.get(self.path, "<Response/>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box
    server.shutdown()
    server.server_close()


@pytest.fixture
def sdk(twilio_sandbox: Sandbox) -> Client:
    client = Client(twilio_sandbox.account_sid, twilio_sandbox.auth_token, environment={})
    client.api.base_url = twilio_sandbox.base_url
    return client


def wait_for(condition: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return found


def record(sandbox: Sandbox, sid: str) -> dict[str, Any]:
    (found,) = [c for c in sandbox.calls() if c["sid"] == sid]
    return found


def test_call_prints_the_21_key_call_output(cli: Cli) -> None:
    result = cli("call", "--to", TO, "--from", FROM, "--say", "Your table is ready")
    assert result.code == 0, result.err
    output = result.json()
    assert len(output) == 21
    assert output["sid"].startswith("CA")
    assert output["status"] == "queued"


def test_a_said_call_completes_with_its_sentence_and_signed_callbacks_in_order(
    cli: Cli, twilio_sandbox: Sandbox, receiver: Receiver
) -> None:
    callback = f"{receiver.url}/status"
    events = ("initiated", "ringing", "answered", "completed")
    result = cli(
        "call", "--to", TO, "--from", FROM, "--say", "Your table for two is ready.",
        "--param", f"StatusCallback={callback}",
        *[arg for event in events for arg in ("--param", f"StatusCallbackEvent={event}")],
    )  # fmt: skip
    sid = result.json()["sid"]
    wait_for(lambda: record(twilio_sandbox, sid)["status"] == "completed", "the call to end")
    ended = record(twilio_sandbox, sid)
    assert {"verb": "Say", "text": "Your table for two is ready."} in ended["transcript"]
    assert int(ended["duration"]) >= 1
    wait_for(lambda: len(receiver.received) == 4, "four callbacks")
    validator = RequestValidator(twilio_sandbox.auth_token)
    for _, fields, signature in receiver.received:
        assert validator.validate(callback, fields, signature)
    sequence = [(f["SequenceNumber"], f["CallStatus"]) for _, f, _ in receiver.received]
    assert sequence == [
        ("0", "initiated"),
        ("1", "ringing"),
        ("2", "in-progress"),
        ("3", "completed"),
    ]
    assert receiver.received[-1][1]["CallDuration"] == ended["duration"]


def test_the_official_library_creates_fetches_ends_and_lists_a_call(
    sdk: Client, twilio_sandbox: Sandbox
) -> None:
    created = sdk.calls.create(to=TO, from_=FROM, twiml='<Response><Pause length="30"/></Response>')
    assert created.status == "queued"
    wait_for(lambda: sdk.calls(created.sid).fetch().status == "in-progress", "in-progress")
    ended = sdk.calls(created.sid).update(status="completed")
    assert ended.sid == created.sid
    wait_for(lambda: sdk.calls(created.sid).fetch().status == "completed", "completed")
    listed = sdk.calls.list(status="completed")
    assert created.sid in [call.sid for call in listed]
    assert sdk.calls.list(status="busy") == []


def test_answers_match_the_official_description(twilio_sandbox: Sandbox) -> None:
    auth = (twilio_sandbox.account_sid, twilio_sandbox.auth_token)
    base = f"{twilio_sandbox.base_url}/2010-04-01/Accounts/{twilio_sandbox.account_sid}"
    created = requests.post(
        f"{base}/Calls.json", data={"To": TO, "From": FROM, "Twiml": "<Response/>"}, auth=auth,
        timeout=30,
    )  # fmt: skip
    assert_valid_response(CALLS, "post", 201, created.json())
    sid = created.json()["sid"]
    wait_for(lambda: record(twilio_sandbox, sid)["status"] == "completed", "the call to end")
    fetched = requests.get(f"{base}/Calls/{sid}.json", auth=auth, timeout=30)
    assert_valid_response(CALL, "get", 200, fetched.json())
    listed = requests.get(f"{base}/Calls.json", auth=auth, timeout=30)
    assert_valid_response(CALLS, "get", 200, listed.json())
    refused = requests.post(
        f"{base}/Calls.json", data={"To": "+15005550001", "From": FROM, "Twiml": "<Response/>"},
        auth=auth, timeout=30,
    )  # fmt: skip
    assert (refused.status_code, refused.json()["code"]) == (400, 21217)
    assert requests.delete(f"{base}/Calls/{sid}.json", auth=auth, timeout=30).status_code == 204


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"Timeout": "0"}, 21208),
        ({"Method": "PUT", "Url": "https://example.com/t"}, 21209),
        ({"SendDigits": "12x"}, 21206),
        ({"StatusCallbackEvent": "picked-up"}, 21200),
    ],
)
def test_the_sandbox_checks_creates_as_twilio_does(
    twilio_sandbox: Sandbox, extra: dict[str, str], code: int
) -> None:
    form = {"To": TO, "From": FROM, "Twiml": "<Response/>", **extra}
    answer = requests.post(
        f"{twilio_sandbox.base_url}/2010-04-01/Accounts/{twilio_sandbox.account_sid}/Calls.json",
        data=form,
        auth=(twilio_sandbox.account_sid, twilio_sandbox.auth_token),
        timeout=30,
    )
    assert (answer.status_code, answer.json()["code"]) == (400, code)
    assert twilio_sandbox.calls() == []


def test_a_gather_posts_the_digits_the_recipient_pressed_to_its_action_signed(
    sdk: Client, twilio_sandbox: Sandbox, receiver: Receiver
) -> None:
    requests.post(
        f"{twilio_sandbox.base_url}/_sandbox/faults",
        json={"kind": "press", "to": TO, "digits": "1#"},
        auth=(twilio_sandbox.account_sid, twilio_sandbox.auth_token),
        timeout=30,
    ).raise_for_status()
    action = f"{receiver.url}/menu"
    receiver.answers["/menu"] = "<Response><Say>You pressed one.</Say></Response>"
    twiml = (
        f'<Response><Gather numDigits="1" action="{action}"><Say>Press 1</Say></Gather></Response>'
    )
    created = sdk.calls.create(to=TO, from_=FROM, twiml=twiml)
    wait_for(lambda: record(twilio_sandbox, created.sid)["status"] == "completed", "the call")
    (posted,) = [r for r in receiver.received if r[0] == "/menu"]
    assert posted[1]["Digits"] == "1"
    assert RequestValidator(twilio_sandbox.auth_token).validate(action, posted[1], posted[2])
    transcript = record(twilio_sandbox, created.sid)["transcript"]
    assert {"verb": "Gather", "digits": "1"} in transcript
    assert {"verb": "Say", "text": "You pressed one."} in transcript


@pytest.mark.parametrize(("kind", "status"), [("busy", "busy"), ("no_answer", "no-answer")])
def test_a_busy_or_absent_recipient_ends_the_call_unanswered(
    sdk: Client, twilio_sandbox: Sandbox, kind: str, status: str
) -> None:
    requests.post(
        f"{twilio_sandbox.base_url}/_sandbox/faults",
        json={"kind": kind, "to": TO},
        auth=(twilio_sandbox.account_sid, twilio_sandbox.auth_token),
        timeout=30,
    ).raise_for_status()
    created = sdk.calls.create(to=TO, from_=FROM, twiml="<Response><Say>Hi</Say></Response>")
    wait_for(lambda: record(twilio_sandbox, created.sid)["status"] == status, status)
    assert record(twilio_sandbox, created.sid)["transcript"] == []
