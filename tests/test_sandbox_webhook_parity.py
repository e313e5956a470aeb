"""Specification: a number's SmsFallbackUrl gets the webhook when its SmsUrl fails, and the
``<Message>`` verbs a webhook answers are sent as replies, as Twilio does.

Webhooks are real HTTP servers on loopback that answer as each test needs; the numbers are
configured with the official `twilio` SDK; inbound messages arrive through the control API.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
from collections.abc import Iterator
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

from twilio_component.sandbox import Sandbox

OWN = "+15005550006"
SECOND = "+15558675300"
CALLER = "+15558675310"
ELSEWHERE = "+15558675399"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
THANKS = "<Response><Message>Thanks</Message></Response>"
INBOUND_FIELDS = {
    "ToCountry", "ToState", "SmsMessageSid", "NumMedia", "ToCity", "FromZip", "SmsSid",
    "FromState", "SmsStatus", "FromCity", "Body", "FromCountry", "To", "ToZip", "NumSegments",
    "MessageSid", "AccountSid", "From", "ApiVersion",
}  # fmt: skip


@dataclass(frozen=True)
class Received:
    """One request a webhook got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        source = self.body.decode() if self.method == "POST" else urlsplit(self.path).query
        pairs = parse_qs(source, keep_blank_values=True)
        return {name: values[0] for name, values in pairs.items()}


class Webhook:
    """A webhook on loopback answering `status`, `content_type` and `body` (or, with `hang`,
    never answering until closed), keeping every request it gets."""

    def __init__(
        self,
        body: str = EMPTY_TWIML,
        *,
        status: int = 200,
        content_type: str = "text/xml",
        hang: bool = False,
    ) -> None:
        self.requests: list[Received] = []
        self.release = threading.Event()
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Received(
                    self.command, self.path, dict(self.headers), self.rfile.read(length)
                )
                webhook.requests.append(request)
                if hang:
                    webhook.release.wait()
                    return
                answer = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

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
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def refusing_url() -> str:
    """A loopback URL where nothing listens (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/sms"


class Phone:
    """The SDK for the numbers and messages, raw HTTP for the control API."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.client = Client(
            sandbox.account_sid, sandbox.auth_token, http_client=TwilioHttpClient(), environment={}
        )
        self.client.api.base_url = sandbox.base_url
        self.session = requests.Session()
        self.session.auth = (sandbox.account_sid, sandbox.auth_token)

    def configure(self, number: str = OWN, **settings: str) -> None:
        sid = self.sandbox.phone_number(number)["sid"]
        self.client.incoming_phone_numbers(sid).update(**settings)

    def text(self, body: str = "Hello", sender: str = CALLER, to: str = OWN) -> dict[str, Any]:
        """A message from `sender` arrives at `to`: the control API's answer."""
        response = self.session.post(
            f"{self.sandbox.base_url}/_sandbox/inbound",
            json={"From": sender, "To": to, "Body": body},
        )
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def deliveries(self) -> list[dict[str, Any]]:
        response = self.session.get(f"{self.sandbox.base_url}/_sandbox/deliveries")
        listed: list[dict[str, Any]] = response.json()["deliveries"]
        return listed

    def replies(self) -> list[dict[str, Any]]:
        return [m for m in self.sandbox.messages if m["direction"] == "outbound-reply"]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(numbers=[SECOND]) as running:
        yield running


@pytest.fixture
def phone(sandbox: Sandbox) -> Phone:
    return Phone(sandbox)


@pytest.fixture
def webhooks() -> Iterator[list[Webhook]]:
    """Webhooks a test starts (append them), closed after it."""
    started: list[Webhook] = []
    yield started
    for webhook in started:
        webhook.close()


def serve(webhooks: list[Webhook], *args: Any, **kwargs: Any) -> Webhook:
    webhook = Webhook(*args, **kwargs)
    webhooks.append(webhook)
    return webhook


def signed_for(sandbox: Sandbox, url: str, request: Received) -> bool:
    """Whether the request carries Twilio's signature for `url` (the SDK's validator)."""
    validator = RequestValidator(sandbox.auth_token)
    params = request.form if request.method == "POST" else {}
    return bool(validator.validate(url, params, request.headers["X-Twilio-Signature"]))


# --- SmsFallbackUrl ---------------------------------------------------------------------------


def test_sms_url_refusing_connections_sends_the_webhook_to_the_fallback_url_with_11205(
    sandbox: Sandbox, phone: Phone, webhooks: list[Webhook]
) -> None:
    fallback = serve(webhooks)
    primary_url = refusing_url()
    phone.configure(sms_url=primary_url, sms_fallback_url=fallback.url("/fallback"))
    sid = phone.text("Hello")["sid"]
    [hit] = fallback.requests
    form = hit.form
    assert hit.method == "POST"
    assert set(form) == INBOUND_FIELDS | {"ErrorCode", "ErrorUrl"}
    assert (form["MessageSid"], form["From"], form["To"], form["Body"]) == (
        sid,
        CALLER,
        OWN,
        "Hello",
    )
    assert (form["ErrorCode"], form["ErrorUrl"]) == ("11205", primary_url)
    assert signed_for(sandbox, fallback.url("/fallback"), hit)


@pytest.mark.parametrize("status", [500, 502, 503, 404])
def test_sms_url_answering_an_error_status_sends_the_fallback_the_same_webhook_with_11200(
    sandbox: Sandbox, phone: Phone, webhooks: list[Webhook], status: int
) -> None:
    primary = serve(webhooks, "oops", status=status, content_type="text/plain")
    fallback = serve(webhooks)
    phone.configure(sms_url=primary.url(), sms_fallback_url=fallback.url("/fallback"))
    phone.text("Hello")
    [first] = primary.requests
    [second] = fallback.requests
    assert second.form == {**first.form, "ErrorCode": "11200", "ErrorUrl": primary.url()}
    assert second.headers["User-Agent"] == first.headers["User-Agent"] == "TwilioProxy/1.1"
    assert signed_for(sandbox, fallback.url("/fallback"), second)


def test_sms_url_that_never_answers_sends_the_webhook_to_the_fallback_url_with_11200(
    webhooks: list[Webhook],
) -> None:
    primary = serve(webhooks, hang=True)
    fallback = serve(webhooks)
    with Sandbox(callback_timeout=0.3) as sandbox:
        phone = Phone(sandbox)
        phone.configure(sms_url=primary.url(), sms_fallback_url=fallback.url("/fallback"))
        phone.text("Anyone there?")  # answers once the fallback has answered
        [hit] = fallback.requests
        assert (hit.form["ErrorCode"], hit.form["ErrorUrl"]) == ("11200", primary.url())
        assert hit.form["Body"] == "Anyone there?"
        assert signed_for(sandbox, fallback.url("/fallback"), hit)


def test_fallback_is_requested_with_sms_fallback_method_get_signed_over_its_whole_url(
    sandbox: Sandbox, phone: Phone, webhooks: list[Webhook]
) -> None:
    fallback = serve(webhooks)
    phone.configure(
        sms_url=refusing_url(),
        sms_fallback_url=fallback.url("/fallback?tenant=7"),
        sms_fallback_method="GET",
    )
    phone.text("By GET")
    [hit] = fallback.requests
    assert (hit.method, hit.body) == ("GET", b"")
    assert (hit.form["tenant"], hit.form["Body"], hit.form["ErrorCode"]) == ("7", "By GET", "11205")
    called = f"http://127.0.0.1:{fallback.server.server_port}{hit.path}"
    assert signed_for(sandbox, called, hit)


def test_fallback_answer_is_recorded_after_the_failed_one_as_deliveries_are(
    phone: Phone, webhooks: list[Webhook]
) -> None:
    primary = serve(webhooks, "down", status=503, content_type="text/plain")
    fallback = serve(webhooks)
    phone.configure(sms_url=primary.url(), sms_fallback_url=fallback.url("/fallback"))
    answer = phone.text()
    assert answer["deliveries"] == [
        {
            "status": 503,
            "content_type": "text/plain",
            "body": "down",
            "error": "the webhook answered HTTP 503",
            "error_code": 11200,
        },
        {"status": 200, "content_type": "text/xml", "body": EMPTY_TWIML, "fallback": True},
    ]
    listed = phone.deliveries()
    assert [(d["url"], d["status"], d["fallback"], d["error_code"]) for d in listed] == [
        (primary.url(), 503, False, 11200),
        (fallback.url("/fallback"), 200, True, None),
    ]
    assert listed[0]["message_sid"] == listed[1]["message_sid"] == answer["sid"]


def test_fallback_failing_too_is_recorded_and_nothing_more_is_tried(
    phone: Phone, webhooks: list[Webhook]
) -> None:
    primary = serve(webhooks, "down", status=500, content_type="text/plain")
    phone.configure(sms_url=primary.url(), sms_fallback_url=refusing_url())
    deliveries = phone.text()["deliveries"]
    assert [(d["status"], d["error_code"], d.get("fallback", False)) for d in deliveries] == [
        (500, 11200, False),
        (None, 11205, True),
    ]
    assert len(primary.requests) == 1


def test_sms_url_that_answers_2xx_twiml_never_calls_the_fallback(
    phone: Phone, webhooks: list[Webhook]
) -> None:
    primary = serve(webhooks)
    fallback = serve(webhooks)
    phone.configure(sms_url=primary.url(), sms_fallback_url=fallback.url("/fallback"))
    assert len(phone.text()["deliveries"]) == 1
    assert (len(primary.requests), fallback.requests) == (1, [])


def test_failure_without_a_fallback_url_is_recorded_with_its_code(phone: Phone) -> None:
    phone.configure(sms_url=refusing_url())
    [delivery] = phone.text()["deliveries"]
    assert (delivery["status"], delivery["error_code"]) == (None, 11205)


def test_sms_url_off_this_machine_is_refused_without_trying_the_fallback(
    phone: Phone, webhooks: list[Webhook]
) -> None:
    fallback = serve(webhooks)
    phone.configure(sms_url="https://example.com/sms", sms_fallback_url=fallback.url("/fallback"))
    [delivery] = phone.text()["deliveries"]
    assert (delivery["status"], "error_code" in delivery) == (None, False)
    assert "loopback" in delivery["error"]
    assert fallback.requests == []


def test_fallback_is_tried_for_each_repeated_delivery(
    sandbox: Sandbox, phone: Phone, webhooks: list[Webhook]
) -> None:
    fallback = serve(webhooks)
    phone.configure(sms_url=refusing_url(), sms_fallback_url=fallback.url("/fallback"))
    response = phone.session.post(
        f"{sandbox.base_url}/_sandbox/inbound",
        json={"From": CALLER, "To": OWN, "Body": "Twice", "Repeat": 2},
    )
    deliveries = response.json()["deliveries"]
    assert [d.get("fallback", False) for d in deliveries] == [False, True, False, True]
    assert len(fallback.requests) == 2


def test_sms_url_answering_twiml_that_does_not_parse_falls_back_with_12100(
    phone: Phone, webhooks: list[Webhook]
) -> None:
    primary = serve(webhooks, "<Response><Message>Thanks</Response>")
    fallback = serve(webhooks, THANKS)
    phone.configure(sms_url=primary.url(), sms_fallback_url=fallback.url("/fallback"))
    first, second = phone.text()["deliveries"]
    assert (first["status"], first["error_code"], "replies" in first) == (200, 12100, False)
    assert fallback.requests[0].form["ErrorCode"] == "12100"
    assert second["fallback"] is True
    assert [m["sid"] for m in phone.replies()] == second["replies"]


# --- TwiML replies ----------------------------------------------------------------------------


def answering(phone: Phone, webhooks: list[Webhook], twiml: str, **settings: Any) -> Webhook:
    webhook = serve(webhooks, twiml, **settings)
    phone.configure(sms_url=webhook.url())
    return webhook


def test_message_verb_is_sent_from_the_receiving_number_to_the_sender(
    sandbox: Sandbox, phone: Phone, webhooks: list[Webhook]
) -> None:
    answering(phone, webhooks, THANKS)
    [delivery] = phone.text("Hi")["deliveries"]
    [reply] = phone.replies()
    assert delivery["replies"] == [reply["sid"]]
    assert (reply["from"], reply["to"], reply["body"]) == (OWN, CALLER, "Thanks")
    assert (reply["direction"], reply["num_segments"], reply["num_media"]) == (
        "outbound-reply",
        "1",
        "0",
    )


def test_reply_is_listed_and_fetched_through_the_messages_api_per_spec(
    sandbox: Sandbox, phone: Phone, webhooks: list[Webhook]
) -> None:
    answering(phone, webhooks, THANKS)
    sid = phone.text()["deliveries"][0]["replies"][0]
    [listed] = phone.client.messages.list(to=CALLER)
    fetched = phone.client.messages(sid).fetch()
    assert (listed.sid, fetched.sid, fetched.body) == (sid, sid, "Thanks")
    root = f"{sandbox.base_url}/2010-04-01/Accounts/{sandbox.account_sid}"
    page = phone.session.get(f"{root}/Messages.json").json()
    assert_valid_response(MESSAGES_PATH, "get", 200, page)
    assert_valid_response(
        MESSAGE_PATH, "get", 200, phone.session.get(f"{root}/Messages/{sid}.json").json()
    )


def test_reply_moves_to_delivered_like_any_message(
    sandbox: Sandbox, phone: Phone, webhooks: list[Webhook]
) -> None:
    answering(phone, webhooks, THANKS)
    sid = phone.text()["deliveries"][0]["replies"][0]
    sandbox.settle(timeout=120)
    reply = sandbox.message(sid)
    assert (reply["status"], reply["price_unit"]) == ("delivered", "USD")
    assert reply["date_sent"] is not None


def test_reply_is_listed_by_the_control_api_with_its_history(
    sandbox: Sandbox, phone: Phone, webhooks: list[Webhook]
) -> None:
    answering(phone, webhooks, THANKS)
    sid = phone.text()["deliveries"][0]["replies"][0]
    sandbox.settle(timeout=120)
    response = phone.session.get(f"{sandbox.base_url}/_sandbox/messages")
    [reply] = [m for m in response.json()["messages"] if m["sid"] == sid]
    assert reply["direction"] == "outbound-reply"
    assert [step["status"] for step in reply["status_history"]] == [
        "queued",
        "sending",
        "sent",
        "delivered",
    ]


def test_reply_is_published_on_the_event_stream_as_a_message(
    sandbox: Sandbox, phone: Phone, webhooks: list[Webhook]
) -> None:
    answering(phone, webhooks, THANKS)
    events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    stream = phone.session.get(f"{sandbox.base_url}/_sandbox/events", stream=True)

    def read() -> None:
        kind = ""
        with contextlib.suppress(requests.RequestException):  # the stream ends with the sandbox
            for line in stream.iter_lines(decode_unicode=True):
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    events.put((kind, json.loads(line.removeprefix("data: "))))

    threading.Thread(target=read, daemon=True).start()
    try:
        sid = phone.text()["deliveries"][0]["replies"][0]
        # Events keep their order: once the log's clearing is seen, the reply's event was sent.
        phone.session.delete(f"{sandbox.base_url}/_sandbox/requests")
        seen = []
        while (event := events.get())[0] != "requests_cleared":
            seen.append(event)
        [reply] = [data for kind, data in seen if kind == "message" and data["sid"] == sid]
        assert (reply["direction"], reply["from"], reply["to"]) == ("outbound-reply", OWN, CALLER)
    finally:
        sandbox.stop()
        stream.close()


def test_body_noun_is_sent_as_the_reply_text(phone: Phone, webhooks: list[Webhook]) -> None:
    answering(phone, webhooks, "<Response><Message><Body>Thanks</Body></Message></Response>")
    phone.text()
    assert [(m["body"], m["to"]) for m in phone.replies()] == [("Thanks", CALLER)]


def test_several_message_verbs_send_several_replies_in_order(
    phone: Phone, webhooks: list[Webhook]
) -> None:
    twiml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        "<Response><Message>One</Message><Message><Body>Two</Body></Message>"
        "<Message>Three</Message></Response>"
    )
    answering(phone, webhooks, twiml)
    [delivery] = phone.text()["deliveries"]
    replies = phone.replies()
    assert [m["body"] for m in replies] == ["One", "Two", "Three"]
    assert delivery["replies"] == [m["sid"] for m in replies]


def test_to_and_from_attributes_choose_the_recipient_and_the_sending_number(
    phone: Phone, webhooks: list[Webhook]
) -> None:
    twiml = (
        f'<Response><Message to="{ELSEWHERE}" from="{SECOND}">Forwarded</Message>'
        f'<Message to="{ELSEWHERE}">To someone else</Message></Response>'
    )
    answering(phone, webhooks, twiml)
    phone.text()
    assert [(m["from"], m["to"], m["body"]) for m in phone.replies()] == [
        (SECOND, ELSEWHERE, "Forwarded"),
        (OWN, ELSEWHERE, "To someone else"),
    ]


def test_media_nouns_make_the_reply_an_mms(phone: Phone, webhooks: list[Webhook]) -> None:
    twiml = (
        "<Response><Message><Body>A cat</Body>"
        "<Media>https://example.com/cat.jpg</Media></Message></Response>"
    )
    answering(phone, webhooks, twiml)
    phone.text()
    [reply] = phone.replies()
    assert (reply["sid"][:2], reply["num_media"], reply["body"]) == ("MM", "1", "A cat")
    media = phone.client.messages(reply["sid"]).media.list()
    assert [item.content_type for item in media] == ["image/jpeg"]


@pytest.mark.parametrize(
    "content_type", ["text/xml", "text/xml; charset=utf-8", "application/xml", "text/html"]
)
def test_twiml_is_read_from_each_content_type_twilio_reads_as_twiml(
    phone: Phone, webhooks: list[Webhook], content_type: str
) -> None:
    answering(phone, webhooks, THANKS, content_type=content_type)
    phone.text()
    assert [m["body"] for m in phone.replies()] == ["Thanks"]


@pytest.mark.parametrize("twiml", [EMPTY_TWIML, "<Response></Response>", "<Response/>", ""])
def test_an_empty_response_sends_nothing(
    sandbox: Sandbox, phone: Phone, webhooks: list[Webhook], twiml: str
) -> None:
    answering(phone, webhooks, twiml)
    [delivery] = phone.text()["deliveries"]
    assert ("replies" in delivery, "error_code" in delivery) == (False, False)
    assert [m["direction"] for m in sandbox.messages] == ["inbound"]


@pytest.mark.parametrize(
    "twiml",
    [
        "<Response><Message>Thanks</Response>",
        "<Response><Message>Thanks</Message>",
        "Thanks",
        "<Reply><Message>Thanks</Message></Reply>",
        ' <?xml version="1.0"?><Response><Message>Thanks</Message></Response>',
        "<Response><Message to=+15558675399>Thanks</Message></Response>",
    ],
)
def test_malformed_twiml_sends_nothing_and_is_recorded_as_unparsed_12100(
    sandbox: Sandbox, phone: Phone, webhooks: list[Webhook], twiml: str
) -> None:
    answering(phone, webhooks, twiml)
    [delivery] = phone.text()["deliveries"]
    assert (delivery["status"], delivery["body"], delivery["error_code"]) == (200, twiml, 12100)
    assert "not a TwiML document" in delivery["error"]
    assert phone.replies() == []
    [listed] = phone.deliveries()
    assert (listed["error_code"], listed["replies"]) == (12100, [])


def test_the_sandbox_keeps_answering_after_malformed_twiml(
    sandbox: Sandbox, phone: Phone, webhooks: list[Webhook]
) -> None:
    answering(phone, webhooks, "<Response><Message>")
    phone.text("first")
    assert phone.text("second")["deliveries"][0]["error_code"] == 12100
    assert len(phone.client.messages.list()) == 2


def test_twiml_with_entities_declared_in_a_doctype_is_not_expanded_and_sends_nothing(
    phone: Phone, webhooks: list[Webhook]
) -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        "<Response><Message>&c;</Message></Response>"
    )
    answering(phone, webhooks, bomb)
    [delivery] = phone.text()["deliveries"]
    assert delivery["error_code"] == 12100
    assert phone.replies() == []


def test_an_empty_message_verb_is_not_sent_and_is_recorded_14103(
    phone: Phone, webhooks: list[Webhook]
) -> None:
    answering(phone, webhooks, "<Response><Message/><Message>Sent</Message></Response>")
    [delivery] = phone.text()["deliveries"]
    assert [m["body"] for m in phone.replies()] == ["Sent"]
    assert [error["code"] for error in delivery["reply_errors"]] == [14103]
    assert "error_code" not in delivery


def test_a_from_that_is_not_the_accounts_number_is_not_sent_and_is_recorded_21606(
    phone: Phone, webhooks: list[Webhook]
) -> None:
    answering(phone, webhooks, f'<Response><Message from="{ELSEWHERE}">No</Message></Response>')
    [delivery] = phone.text()["deliveries"]
    assert phone.replies() == []
    assert [error["code"] for error in delivery["reply_errors"]] == [21606]


def test_a_to_that_is_not_a_phone_number_is_not_sent_and_is_recorded_21211(
    phone: Phone, webhooks: list[Webhook]
) -> None:
    answering(phone, webhooks, '<Response><Message to="me">No</Message></Response>')
    [delivery] = phone.text()["deliveries"]
    assert phone.replies() == []
    assert [error["code"] for error in delivery["reply_errors"]] == [21211]


def test_a_reply_to_another_sandbox_number_reaches_that_numbers_sms_url(
    sandbox: Sandbox, phone: Phone, webhooks: list[Webhook]
) -> None:
    answering(phone, webhooks, THANKS)
    second = serve(webhooks)
    phone.configure(SECOND, sms_url=second.url("/second"))
    sent = phone.client.messages.create(to=OWN, from_=SECOND, body="Hi from the second line")
    sandbox.settle(timeout=120)  # until every message is final and every relay received
    [hit] = second.requests
    assert (hit.form["From"], hit.form["To"], hit.form["Body"]) == (OWN, SECOND, "Thanks")
    directions = [(m["direction"], m["from"], m["to"]) for m in sandbox.messages]
    assert directions == [
        ("outbound-api", SECOND, OWN),
        ("inbound", SECOND, OWN),
        ("outbound-reply", OWN, SECOND),
        ("inbound", OWN, SECOND),
    ]
    assert sandbox.messages[0]["sid"] == sent.sid


def test_a_reply_to_a_recipient_marked_undelivered_ends_undelivered(
    sandbox: Sandbox, phone: Phone, webhooks: list[Webhook]
) -> None:
    answering(phone, webhooks, THANKS)
    sandbox.faults.undelivered(CALLER, 30003)
    sid = phone.text()["deliveries"][0]["replies"][0]
    sandbox.settle(timeout=120)
    assert (sandbox.message(sid)["status"], sandbox.message(sid)["error_code"]) == (
        "undelivered",
        30003,
    )
