"""Specification: messages arrive at sandbox numbers and reach their SmsUrl as Twilio's webhook."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from openapi import MESSAGE_PATH, MESSAGES_PATH, assert_valid_response
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from twilio_component.sandbox import InboundRefused, Sandbox

OWN = "+15005550006"
SECOND = "+15558675300"
CALLER = "+15558675310"
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
TWILIO_FIELDS = {
    "ToCountry", "ToState", "SmsMessageSid", "NumMedia", "ToCity", "FromZip", "SmsSid",
    "FromState", "SmsStatus", "FromCity", "Body", "FromCountry", "To", "ToZip", "NumSegments",
    "MessageSid", "AccountSid", "From", "ApiVersion",
}  # fmt: skip


@dataclass(frozen=True)
class Received:
    """One request the webhook receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        source = self.body.decode() if self.method == "POST" else urlsplit(self.path).query
        pairs = parse_qs(source, keep_blank_values=True)
        return {name: values[0] for name, values in pairs.items()}


class Receiver:
    """A webhook endpoint on loopback that answers empty TwiML and keeps every request."""

    def __init__(self, on_request: Callable[[Received], None] | None = None) -> None:
        self.received: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Received(
                    self.command, self.path, dict(self.headers), self.rfile.read(length)
                )
                receiver.received.append(request)
                if on_request is not None:
                    on_request(request)
                body = TWIML.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def url(self, path: str = "/sms") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Control:
    """Authenticated JSON requests to one sandbox's control API and its Twilio API."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.session = requests.Session()
        self.session.auth = (sandbox.account_sid, sandbox.auth_token)
        self.root = f"{sandbox.base_url}/2010-04-01/Accounts/{sandbox.account_sid}"

    def inbound(self, **payload: Any) -> requests.Response:
        payload.setdefault("From", CALLER)
        payload.setdefault("To", OWN)
        payload.setdefault("Body", "Hello sandbox")
        return self.session.post(
            f"{self.sandbox.base_url}/_sandbox/inbound", json=payload, timeout=10
        )

    def received(self, **payload: Any) -> dict[str, Any]:
        response = self.inbound(**payload)
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def set_sms_url(self, number: str, url: str, method: str = "POST") -> None:
        sid = self.sandbox.phone_number(number)["sid"]
        response = self.session.post(
            f"{self.root}/IncomingPhoneNumbers/{sid}.json",
            data={"SmsUrl": url, "SmsMethod": method},
            timeout=5,
        )
        assert response.status_code == 200, response.text

    def send(self, to: str, body: str, sender: str = OWN) -> requests.Response:
        form = {"To": to, "From": sender, "Body": body}
        return self.session.post(f"{self.root}/Messages.json", data=form, timeout=10)


def sdk_client(sandbox: Sandbox) -> Client:
    client = Client(
        sandbox.account_sid, sandbox.auth_token, http_client=TwilioHttpClient(), environment={}
    )
    client.api.base_url = sandbox.base_url
    return client


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(numbers=[SECOND]) as running:
        yield running


@pytest.fixture
def control(sandbox: Sandbox) -> Control:
    return Control(sandbox)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def test_inbound_without_an_sms_url_is_stored_and_delivered_nowhere(control: Control) -> None:
    answer = control.received(Body="No webhook here")
    assert re.fullmatch(r"SM[0-9a-f]{32}", answer["sid"])
    assert answer["deliveries"] == []


def test_inbound_message_is_listed_and_fetched_by_the_sdk_as_received(
    sandbox: Sandbox, control: Control
) -> None:
    sid = control.received(Body="Hi there")["sid"]
    client = sdk_client(sandbox)
    listed = client.messages.list(to=OWN)
    assert [message.sid for message in listed] == [sid]
    fetched = client.messages(sid).fetch()
    assert (fetched.direction, fetched.status) == ("inbound", "received")
    assert (fetched.from_, fetched.to, fetched.body) == (CALLER, OWN, "Hi there")
    assert (fetched.num_segments, fetched.num_media) == ("1", "0")


def test_inbound_message_resource_is_valid_against_the_official_spec(
    control: Control,
) -> None:
    sid = control.received(Body="Spec me")["sid"]
    fetched = control.session.get(f"{control.root}/Messages/{sid}.json", timeout=5)
    assert_valid_response(MESSAGE_PATH, "get", 200, fetched.json())
    listed = control.session.get(f"{control.root}/Messages.json", timeout=5)
    assert_valid_response(MESSAGES_PATH, "get", 200, listed.json())


def test_inbound_segments_are_counted_like_outbound(control: Control) -> None:
    sid = control.received(Body="x" * 161)["sid"]
    fetched = control.session.get(f"{control.root}/Messages/{sid}.json", timeout=5).json()
    assert fetched["num_segments"] == "2"


def test_webhook_posts_twilios_fields_signed_over_the_sms_url(
    sandbox: Sandbox, control: Control, receiver: Receiver
) -> None:
    url = receiver.url("/sms?tenant=7")
    control.set_sms_url(OWN, url)
    sid = control.received(Body="Hello hook")["sid"]
    [hit] = receiver.received
    form = hit.form
    assert set(form) == TWILIO_FIELDS
    assert form["MessageSid"] == form["SmsSid"] == form["SmsMessageSid"] == sid
    assert (form["From"], form["To"], form["Body"]) == (CALLER, OWN, "Hello hook")
    assert (form["SmsStatus"], form["ApiVersion"]) == ("received", "2010-04-01")
    assert (form["NumMedia"], form["NumSegments"]) == ("0", "1")
    assert form["AccountSid"] == sandbox.account_sid
    validator = RequestValidator(sandbox.auth_token)
    assert validator.validate(url, form, hit.headers["X-Twilio-Signature"])


def test_webhook_headers_are_twilios(control: Control, receiver: Receiver) -> None:
    control.set_sms_url(OWN, receiver.url())
    control.received()
    [hit] = receiver.received
    assert hit.method == "POST"
    assert hit.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert hit.headers["User-Agent"] == "TwilioProxy/1.1"
    assert hit.headers["I-Twilio-Idempotency-Token"]


def test_inbound_answer_reports_what_the_webhook_answered(
    control: Control, receiver: Receiver
) -> None:
    control.set_sms_url(OWN, receiver.url())
    answer = control.received()
    assert answer["deliveries"] == [{"status": 200, "content_type": "text/xml", "body": TWIML}]


def test_repeat_delivers_the_same_webhook_with_one_token_and_stores_one_message(
    sandbox: Sandbox, control: Control, receiver: Receiver
) -> None:
    control.set_sms_url(OWN, receiver.url())
    answer = control.received(Repeat=3)
    assert len(answer["deliveries"]) == 3
    assert len(receiver.received) == 3
    assert len({hit.body for hit in receiver.received}) == 1
    assert len({hit.headers["I-Twilio-Idempotency-Token"] for hit in receiver.received}) == 1
    assert len({hit.headers["X-Twilio-Signature"] for hit in receiver.received}) == 1
    assert [message["sid"] for message in sandbox.messages] == [answer["sid"]]


def test_separate_events_carry_different_idempotency_tokens(
    control: Control, receiver: Receiver
) -> None:
    control.set_sms_url(OWN, receiver.url())
    control.received(Body="one")
    control.received(Body="two")
    tokens = {hit.headers["I-Twilio-Idempotency-Token"] for hit in receiver.received}
    assert len(tokens) == 2


def test_get_sms_method_sends_the_fields_in_the_query_signed_over_the_whole_url(
    sandbox: Sandbox, control: Control, receiver: Receiver
) -> None:
    control.set_sms_url(OWN, receiver.url("/sms?tenant=7"), method="GET")
    control.received(Body="By GET")
    [hit] = receiver.received
    assert hit.method == "GET"
    assert hit.body == b""
    query = parse_qs(urlsplit(hit.path).query)
    assert query["tenant"] == ["7"]
    assert query["Body"] == ["By GET"]
    called = f"http://127.0.0.1:{receiver.server.server_port}{hit.path}"
    validator = RequestValidator(sandbox.auth_token)
    assert validator.validate(called, {}, hit.headers["X-Twilio-Signature"])


def test_media_urls_become_numbered_media_fields_of_an_mm_message(
    sandbox: Sandbox, control: Control, receiver: Receiver
) -> None:
    control.set_sms_url(OWN, receiver.url())
    media = ["https://example.com/cat.jpg", "https://example.com/clip.mp4"]
    answer = control.received(Body="", MediaUrl=media)
    assert answer["sid"].startswith("MM")
    [hit] = receiver.received
    form = hit.form
    assert form["NumMedia"] == "2"
    assert (form["MediaUrl0"], form["MediaUrl1"]) == tuple(media)
    assert (form["MediaContentType0"], form["MediaContentType1"]) == ("image/jpeg", "video/mp4")
    assert RequestValidator(sandbox.auth_token).validate(
        receiver.url(), form, hit.headers["X-Twilio-Signature"]
    )
    assert sandbox.message(answer["sid"])["num_media"] == "2"


def test_a_webhook_nobody_answers_is_reported_with_an_error(
    control: Control, receiver: Receiver
) -> None:
    url = receiver.url()
    receiver.close()
    control.set_sms_url(OWN, url)
    [delivery] = control.received()["deliveries"]
    assert delivery["status"] is None
    assert "Connection" in delivery["error"] or "refused" in delivery["error"].lower()


def test_a_webhook_off_this_machine_is_refused_and_never_sent(control: Control) -> None:
    control.set_sms_url(OWN, "https://example.com/sms")
    [delivery] = control.received()["deliveries"]
    assert delivery["status"] is None
    assert "loopback" in delivery["error"]


def test_a_reply_sent_from_inside_the_webhook_does_not_deadlock(
    sandbox: Sandbox, control: Control
) -> None:
    replies: list[int] = []

    def reply(request: Received) -> None:
        form = request.form
        answered = Control(sandbox).send(to=form["From"], body="Thanks!", sender=form["To"])
        replies.append(answered.status_code)

    receiver = Receiver(on_request=reply)
    try:
        control.set_sms_url(OWN, receiver.url())
        answer = control.received(Body="Please reply")
    finally:
        receiver.close()
    assert answer["deliveries"][0]["status"] == 200
    assert replies == [201]
    directions = [(m["direction"], m["to"]) for m in sandbox.messages]
    assert directions == [("inbound", OWN), ("outbound-api", CALLER)]


def test_a_message_between_sandbox_numbers_reaches_the_recipients_sms_url(
    sandbox: Sandbox, control: Control, receiver: Receiver
) -> None:
    control.set_sms_url(SECOND, receiver.url())
    sent = control.send(to=SECOND, body="Number to number", sender=OWN)
    assert sent.status_code == 201, sent.text
    sandbox.settle()
    [hit] = receiver.received
    form = hit.form
    assert (form["From"], form["To"], form["Body"]) == (OWN, SECOND, "Number to number")
    outbound, inbound = sandbox.messages
    assert (outbound["sid"], outbound["direction"]) == (sent.json()["sid"], "outbound-api")
    assert (inbound["sid"], inbound["direction"], inbound["status"]) == (
        form["MessageSid"],
        "inbound",
        "received",
    )


def test_a_message_to_an_outside_number_is_not_received(sandbox: Sandbox, control: Control) -> None:
    assert control.send(to=CALLER, body="Out there").status_code == 201
    sandbox.settle()
    assert [m["direction"] for m in sandbox.messages] == ["outbound-api"]


def test_deliveries_lists_each_webhook_with_its_url_and_answer(
    control: Control, receiver: Receiver
) -> None:
    control.set_sms_url(OWN, receiver.url())
    sid = control.received(Repeat=2)["sid"]
    listed = control.session.get(f"{control.sandbox.base_url}/_sandbox/deliveries", timeout=5)
    deliveries = listed.json()["deliveries"]
    assert [(d["message_sid"], d["url"], d["status"]) for d in deliveries] == [
        (sid, receiver.url(), 200),
        (sid, receiver.url(), 200),
    ]
    assert deliveries[0]["body"] == TWIML


def test_python_receive_answers_like_the_control_api(
    sandbox: Sandbox, control: Control, receiver: Receiver
) -> None:
    control.set_sms_url(OWN, receiver.url())
    answer = sandbox.receive(CALLER, OWN, "From Python", media=["https://example.com/a.png"])
    assert answer["sid"].startswith("MM")
    assert answer["deliveries"] == [{"status": 200, "content_type": "text/xml", "body": TWIML}]
    assert receiver.received[0].form["MediaContentType0"] == "image/png"
    assert sandbox.message(answer["sid"])["direction"] == "inbound"


def test_python_receive_repeats_the_delivery(
    sandbox: Sandbox, control: Control, receiver: Receiver
) -> None:
    control.set_sms_url(OWN, receiver.url())
    answer = sandbox.receive(CALLER, OWN, "Twice", repeat=2)
    assert len(answer["deliveries"]) == len(receiver.received) == 2


def test_inbound_to_a_number_that_is_not_the_sandboxs_is_refused_naming_to(
    control: Control,
) -> None:
    response = control.inbound(To="+15551230000")
    assert response.status_code == 404
    assert response.json()["field"] == "To"
    assert "not one of the sandbox's numbers" in response.json()["error"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"From": None}, "From"),
        ({"From": "555-0100"}, "From"),
        ({"To": 15005550006}, "To"),
        ({"Body": 7}, "Body"),
        ({"Body": ""}, "Body"),
        ({"MediaUrl": "https://example.com/a.png"}, "MediaUrl"),
        ({"MediaUrl": ["ftp://example.com/a.png"]}, "MediaUrl"),
        ({"Repeat": 0}, "Repeat"),
        ({"Repeat": True}, "Repeat"),
        ({"Form": CALLER}, "Form"),
    ],
)
def test_bad_inbound_is_refused_400_naming_the_field(
    sandbox: Sandbox, control: Control, change: dict[str, Any], field: str
) -> None:
    payload: dict[str, Any] = {"From": CALLER, "To": OWN, "Body": "Hi", **change}
    payload = {name: value for name, value in payload.items() if value is not None}
    response = control.session.post(f"{sandbox.base_url}/_sandbox/inbound", json=payload, timeout=5)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert sandbox.messages == []


def test_inbound_body_that_is_not_json_is_refused(sandbox: Sandbox, control: Control) -> None:
    response = control.session.post(
        f"{sandbox.base_url}/_sandbox/inbound", data="From=+15558675310", timeout=5
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]


def test_python_receive_refuses_bad_input_naming_the_field(sandbox: Sandbox) -> None:
    with pytest.raises(InboundRefused, match="Repeat") as refused:
        sandbox.receive(CALLER, OWN, "Hi", repeat=0)
    assert refused.value.field == "Repeat"
    with pytest.raises(InboundRefused) as not_ours:
        sandbox.receive(CALLER, "+15551230000", "Hi")
    assert (not_ours.value.field, not_ours.value.status) == ("To", 404)
