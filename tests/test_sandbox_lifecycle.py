"""Specification of how sandbox messages move through statuses and call back, signed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from openapi import MESSAGE_PATH, assert_valid_response

from twilio_component.sandbox import ManualClock, Sandbox
from twilio_component.twilio.signature import compute_signature, verify_signature

SENDER = "+15005550006"
RECIPIENT = "+15558675310"
FAILING = "+15558675399"
SERVICE = "MG" + "c" * 32
START = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)


class CallbackReceiver:
    """A loopback HTTP server that keeps every status callback POSTed to it."""

    def __init__(self, *, gate: threading.Event | None = None) -> None:
        """`gate`, when given, holds every answer until it is set."""
        self.received: list[tuple[str, dict[str, str], str]] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
                params = {name: values[0] for name, values in form.items()}
                receiver.received.append((self.path, params, self.headers["X-Twilio-Signature"]))
                receiver.arrived.set()
                if gate is not None:
                    gate.wait(30)
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/status"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def statuses(self) -> list[str]:
        return [params["MessageStatus"] for _, params, _ in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    running = CallbackReceiver()
    yield running
    running.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def sandbox(clock: ManualClock) -> Iterator[Sandbox]:
    with Sandbox(clock=clock, delivery_failures={FAILING: 30007}) as running:
        yield running


def create(sandbox: Sandbox, **form: str) -> dict[str, Any]:
    fields = {"To": RECIPIENT, "From": SENDER, "Body": "Hello"}
    fields.update(form)
    response = requests.post(
        f"{sandbox.base_url}/2010-04-01/Accounts/{sandbox.account_sid}/Messages.json",
        data={name: value for name, value in fields.items() if value},
        auth=(sandbox.account_sid, sandbox.auth_token),
        timeout=5,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def fetch(sandbox: Sandbox, sid: str) -> dict[str, Any]:
    response = requests.get(
        f"{sandbox.base_url}/2010-04-01/Accounts/{sandbox.account_sid}/Messages/{sid}.json",
        auth=(sandbox.account_sid, sandbox.auth_token),
        timeout=5,
    )
    body: dict[str, Any] = response.json()
    assert_valid_response(MESSAGE_PATH, "get", 200, body)
    return body


def test_status_moves_queued_sending_sent_delivered_a_step_a_second(sandbox: Sandbox) -> None:
    sid = create(sandbox)["sid"]
    seen = [fetch(sandbox, sid)["status"]]
    for _ in range(4):
        sandbox.advance(1)
        seen.append(fetch(sandbox, sid)["status"])
    assert seen == ["queued", "sending", "sent", "delivered", "delivered"]


def test_sent_message_carries_date_sent_and_price(sandbox: Sandbox) -> None:
    sid = create(sandbox)["sid"]
    sandbox.advance(1)
    assert (fetch(sandbox, sid)["date_sent"], fetch(sandbox, sid)["price"]) == (None, None)
    sandbox.advance(1)
    sent = fetch(sandbox, sid)
    assert sent["date_sent"] == "Tue, 01 Jan 2030 12:00:02 +0000"
    assert sent["date_updated"] == "Tue, 01 Jan 2030 12:00:02 +0000"
    assert (sent["price"], sent["price_unit"]) == ("-0.00790", "USD")


def test_price_is_charged_per_segment(sandbox: Sandbox) -> None:
    sid = create(sandbox, Body="x" * 161)["sid"]
    sandbox.advance(5)
    assert fetch(sandbox, sid)["price"] == "-0.01580"


def test_delivery_failure_ends_undelivered_with_its_code(sandbox: Sandbox) -> None:
    sid = create(sandbox, To=FAILING)["sid"]
    sandbox.advance(2)
    assert fetch(sandbox, sid)["status"] == "sent"
    sandbox.advance(1)
    failed = fetch(sandbox, sid)
    assert (failed["status"], failed["error_code"]) == ("undelivered", 30007)
    assert failed["error_message"] == "Carrier violation"


def test_delivery_failure_code_must_be_a_30xxx_code() -> None:
    with pytest.raises(ValueError, match="30xxx"):
        Sandbox(delivery_failures={FAILING: 21211})


def test_messaging_service_assigns_a_sender_when_queued(sandbox: Sandbox) -> None:
    created = create(sandbox, From="", MessagingServiceSid=SERVICE, Body="x" * 200)
    assert (created["status"], created["from"], created["num_segments"]) == ("accepted", None, "0")
    sandbox.advance(1)
    queued = fetch(sandbox, created["sid"])
    assert (queued["status"], queued["from"], queued["num_segments"]) == ("queued", SENDER, "2")


def test_scheduled_message_waits_for_send_at(sandbox: Sandbox) -> None:
    send_at = START + timedelta(hours=1)
    created = create(
        sandbox,
        From="",
        MessagingServiceSid=SERVICE,
        ScheduleType="fixed",
        SendAt=send_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    assert created["status"] == "scheduled"
    sandbox.advance(3599)
    assert fetch(sandbox, created["sid"])["status"] == "scheduled"
    sandbox.advance(1)
    assert fetch(sandbox, created["sid"])["status"] == "queued"
    sandbox.advance(10)
    delivered = fetch(sandbox, created["sid"])
    assert delivered["status"] == "delivered"
    assert delivered["date_sent"] == "Tue, 01 Jan 2030 13:00:02 +0000"


def test_advancing_the_clock_itself_also_moves_statuses(
    sandbox: Sandbox, clock: ManualClock
) -> None:
    sid = create(sandbox)["sid"]
    clock.advance(3)
    assert fetch(sandbox, sid)["status"] == "delivered"


def test_real_clock_delivers_on_its_own() -> None:
    with Sandbox() as sandbox:
        sid = create(sandbox)["sid"]
        sandbox.settle(timeout=10)
        assert fetch(sandbox, sid)["status"] == "delivered"


def test_callbacks_arrive_for_every_status_with_a_valid_signature(
    sandbox: Sandbox, receiver: CallbackReceiver
) -> None:
    sid = create(sandbox, StatusCallback=receiver.url)["sid"]
    sandbox.advance(5)
    assert receiver.statuses() == ["sending", "sent", "delivered"]
    for path, params, signature in receiver.received:
        url = receiver.url.rsplit("/", 1)[0] + path
        assert verify_signature(sandbox.auth_token, signature, url, params)
        assert signature == compute_signature(sandbox.auth_token, url, params)
        assert params["MessageSid"] == params["SmsSid"] == sid
        assert params["AccountSid"] == sandbox.account_sid
        assert (params["From"], params["To"], params["ApiVersion"]) == (
            SENDER,
            RECIPIENT,
            "2010-04-01",
        )
        assert params["SmsStatus"] == params["MessageStatus"]
        assert "ErrorCode" not in params
    assert [(c.status_code, c.delivered) for c in sandbox.callbacks] == [(204, True)] * 3


def test_no_callback_for_the_initial_queued_status(
    sandbox: Sandbox, receiver: CallbackReceiver
) -> None:
    create(sandbox, StatusCallback=receiver.url)
    sandbox.advance(0.5)
    assert receiver.statuses() == []
    assert sandbox.callbacks == []
    sandbox.advance(0.5)
    assert receiver.statuses() == ["sending"]


def test_no_callback_for_the_initial_scheduled_status(
    sandbox: Sandbox, receiver: CallbackReceiver
) -> None:
    create(
        sandbox,
        From="",
        MessagingServiceSid=SERVICE,
        StatusCallback=receiver.url,
        ScheduleType="fixed",
        SendAt=(START + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    sandbox.advance(3599)
    assert receiver.statuses() == []
    sandbox.advance(5)
    assert receiver.statuses() == ["queued", "sending", "sent", "delivered"]


def test_callback_signature_covers_the_query_string(
    sandbox: Sandbox, receiver: CallbackReceiver
) -> None:
    url = receiver.url + "?tenant=7&b=2"
    create(sandbox, StatusCallback=url)
    sandbox.advance(5)
    path, params, signature = receiver.received[-1]
    assert path.endswith("?tenant=7&b=2")
    assert verify_signature(sandbox.auth_token, signature, url, params)
    assert not verify_signature(sandbox.auth_token, signature, receiver.url, params)


def test_failure_callback_carries_the_error_code(
    sandbox: Sandbox, receiver: CallbackReceiver
) -> None:
    create(sandbox, To=FAILING, StatusCallback=receiver.url)
    sandbox.advance(5)
    last = receiver.received[-1][1]
    assert (last["MessageStatus"], last["ErrorCode"]) == ("undelivered", "30007")


def test_service_callbacks_name_the_messaging_service(
    sandbox: Sandbox, receiver: CallbackReceiver
) -> None:
    create(sandbox, From="", MessagingServiceSid=SERVICE, StatusCallback=receiver.url)
    sandbox.advance(5)
    assert receiver.statuses() == ["queued", "sending", "sent", "delivered"]
    assert all(params["MessagingServiceSid"] == SERVICE for _, params, _ in receiver.received)
    assert all(params["From"] == SENDER for _, params, _ in receiver.received)


def test_callbacks_off_the_machine_are_refused_and_recorded(sandbox: Sandbox) -> None:
    create(sandbox, StatusCallback="https://callbacks.example.com/status")
    sandbox.advance(5)
    records = sandbox.callbacks
    assert len(records) == 3
    assert all(r.refused and r.status_code is None and not r.delivered for r in records)


def test_no_callbacks_without_a_status_callback(sandbox: Sandbox) -> None:
    create(sandbox)
    sandbox.advance(5)
    assert sandbox.callbacks == []


def test_creates_never_wait_on_a_callback_endpoint_that_does_not_answer() -> None:
    gate = threading.Event()
    stuck_receiver = CallbackReceiver(gate=gate)
    try:
        with Sandbox() as sandbox:
            create(sandbox, StatusCallback=stuck_receiver.url)
            assert stuck_receiver.arrived.wait(10)  # the first callback is held unanswered
            for _ in range(3):
                create(sandbox, StatusCallback=stuck_receiver.url)
            assert not gate.is_set()
            assert len(stuck_receiver.received) == 1
            assert len(sandbox.messages) == 4
            gate.set()
    finally:
        gate.set()
        stuck_receiver.close()


def test_reset_forgets_pending_steps(sandbox: Sandbox, receiver: CallbackReceiver) -> None:
    create(sandbox, StatusCallback=receiver.url)
    sandbox.reset()
    sandbox.advance(5)
    assert receiver.statuses() == []
    assert sandbox.messages == []
