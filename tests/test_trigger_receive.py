"""Host.receive: Twilio webhooks verified, deduplicated and ordered; events from the descriptor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from twilio_component import (
    Component,
    ComponentError,
    ConnectionConfigError,
    Host,
    Invocation,
    MemoryLedger,
    TriggerConflictError,
    WebhookRequest,
)
from twilio_component.descriptor import load_descriptor
from twilio_component.resources import read_text
from twilio_component.sandbox import Sandbox
from twilio_component.twilio.settings import Settings

TOKEN = "12345678901234567890123456789012"
ACCOUNT = "AC" + "1" * 32
CONNECTION = {"username": ACCOUNT, "password": TOKEN}
URL = "https://hooks.example.com/twilio/v1/newIncomingSMS"
INCOMING = "twilio/v1/newIncomingSMS"
STATUS = "twilio/v1/messageStatus"
SID = "SM" + "a" * 32


def inbound(**extra: str) -> dict[str, str]:
    return {
        "MessageSid": SID,
        "SmsSid": SID,
        "SmsMessageSid": SID,
        "AccountSid": ACCOUNT,
        "From": "+15558675310",
        "To": "+15005550006",
        "Body": "Hello there",
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
        "FromCountry": "US",
        **extra,
    }


def signed(fields: dict[str, str], url: str = URL, token: str = TOKEN, **headers: str) -> Any:
    signature = RequestValidator(token).compute_signature(url, fields)
    return WebhookRequest(
        "POST",
        url,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
            **headers,
        },
        urlencode(fields).encode(),
    )


@pytest.fixture
def host() -> Iterator[Host]:
    with Host.load() as loaded:
        yield loaded


def test_a_signed_incoming_message_is_answered_with_empty_twiml_and_is_one_event(
    host: Host,
) -> None:
    received = host.receive(
        INCOMING,
        signed(inbound()),
        connection=CONNECTION,
        parameters={"PhoneNumber": "+15005550006"},
    )
    assert received.answer.status == 200
    assert received.answer.headers["Content-Type"] == "text/xml"
    assert received.answer.body == b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
    (event,) = received.events
    assert event["messageSid"] == SID
    assert event["from"] == "+15558675310"
    assert event["body"] == "Hello there"
    assert event["numMedia"] == 0
    assert event["media"] == []
    assert event["fromCountry"] == "US"
    assert event["profileName"] is None
    assert event["parameters"]["SmsStatus"] == "received"


def test_media_fields_become_a_list_of_url_and_content_type(host: Host) -> None:
    fields = inbound(
        NumMedia="2",
        MediaUrl0="https://api.twilio.com/m/0",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/m/1",
        MediaContentType1="image/png",
    )
    (event,) = host.receive(INCOMING, signed(fields), connection=CONNECTION).events
    assert event["media"] == [
        {"url": "https://api.twilio.com/m/0", "contentType": "image/jpeg"},
        {"url": "https://api.twilio.com/m/1", "contentType": "image/png"},
    ]


def test_fields_twilio_adds_without_notice_are_kept_in_parameters(host: Host) -> None:
    (event,) = host.receive(
        INCOMING, signed(inbound(BrandNewField="x")), connection=CONNECTION
    ).events
    assert event["parameters"]["BrandNewField"] == "x"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda r: WebhookRequest(r.method, r.url, {**r.headers, "X-Twilio-Signature": ""}, r.body),
        lambda r: WebhookRequest(
            r.method,
            r.url,
            {k: v for k, v in r.headers.items() if k != "X-Twilio-Signature"},
            r.body,
        ),
        lambda r: WebhookRequest(r.method, r.url, r.headers, r.body.replace(b"Hello", b"Hallo")),
        lambda r: WebhookRequest(r.method, r.url + "?x=1", r.headers, r.body),
    ],
    ids=["empty signature", "no signature", "body changed", "url changed"],
)
def test_a_request_without_twilios_signature_is_403_and_carries_no_event(
    host: Host, tamper: Any
) -> None:
    received = host.receive(INCOMING, tamper(signed(inbound())), connection=CONNECTION)
    assert received.answer.status == 403
    assert received.events == ()


def test_a_signature_made_with_another_token_is_refused(host: Host) -> None:
    request = signed(inbound(), token="0" * 32)
    assert host.receive(INCOMING, request, connection=CONNECTION).answer.status == 403


def test_the_same_message_delivered_twice_is_one_event(host: Host) -> None:
    first = host.receive(INCOMING, signed(inbound()), connection=CONNECTION)
    again = host.receive(INCOMING, signed(inbound()), connection=CONNECTION)
    assert len(first.events) == 1
    assert again.answer.status == 200
    assert again.events == ()
    assert again.duplicates == 1


def test_the_same_idempotency_token_is_one_event_even_if_fields_differ(host: Host) -> None:
    token = {"I-Twilio-Idempotency-Token": "tok-1"}
    host.receive(INCOMING, signed(inbound(), **token), connection=CONNECTION)
    other = inbound(MessageSid="SM" + "b" * 32)
    assert host.receive(INCOMING, signed(other, **token), connection=CONNECTION).events == ()


def status(value: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": SID,
        "SmsSid": SID,
        "MessageStatus": value,
        "SmsStatus": value,
        "AccountSid": ACCOUNT,
        "From": "+15005550006",
        "To": "+15558675310",
        **extra,
    }


def test_a_status_arriving_after_a_later_one_is_acknowledged_and_not_emitted(host: Host) -> None:
    delivered = host.receive(STATUS, signed(status("delivered")), connection=CONNECTION)
    sent = host.receive(STATUS, signed(status("sent")), connection=CONNECTION)
    assert [e["messageStatus"] for e in delivered.events] == ["delivered"]
    assert sent.answer.status == 200
    assert sent.events == ()
    assert sent.stale == 1


def test_statuses_in_order_are_each_emitted_once(host: Host) -> None:
    seen: list[str] = []
    for value in ("sending", "sent", "sent", "delivered", "read", "delivered"):
        received = host.receive(STATUS, signed(status(value)), connection=CONNECTION)
        seen.extend(e["messageStatus"] for e in received.events)
    assert seen == ["sending", "sent", "delivered", "read"]


def test_an_undelivered_status_carries_its_error_code(host: Host) -> None:
    fields = status("undelivered", ErrorCode="30003")
    (event,) = host.receive(STATUS, signed(fields), connection=CONNECTION).events
    assert event["errorCode"] == 30003


def test_a_json_bodied_webhook_is_verified_by_its_body_hash(host: Host) -> None:
    import hashlib

    body = json.dumps({"MessageSid": SID, "MessageStatus": "sent"}).encode()
    url = f"{URL}?bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = RequestValidator(TOKEN).compute_signature(url, {})
    headers = {"Content-Type": "application/json", "X-Twilio-Signature": signature}
    good = host.receive(STATUS, WebhookRequest("POST", url, headers, body), connection=CONNECTION)
    bad = host.receive(
        STATUS, WebhookRequest("POST", url, headers, body + b" "), connection=CONNECTION
    )
    assert [e["messageStatus"] for e in good.events] == ["sent"]
    assert bad.answer.status == 403


def test_an_api_key_connection_cannot_verify_and_says_why(host: Host) -> None:
    key = {"accountSid": ACCOUNT, "apiKeySid": "SK" + "2" * 32, "apiKeySecret": "s" * 32}
    with pytest.raises(ConnectionConfigError, match="Auth Token"):
        host.receive(INCOMING, signed(inbound()), connection=key)


def test_the_memory_ledger_forgets_the_oldest_past_its_capacity() -> None:
    ledger = MemoryLedger(capacity=2)
    assert ledger.claim(["a"])
    assert ledger.claim(["b"])
    assert ledger.claim(["c"])
    assert not ledger.claim(["c"])
    assert ledger.claim(["a"])  # forgotten


@pytest.fixture(scope="module")
def shared_host() -> Iterator[Host]:
    with Host.load() as loaded:
        yield loaded


@settings(max_examples=60, deadline=None)
@given(order=st.lists(st.sampled_from(["sending", "sent", "delivered", "read"]), max_size=12))
def test_emitted_statuses_always_climb_whatever_the_arrival_order(
    shared_host: Host, order: list[str]
) -> None:
    shared_host.ledger = MemoryLedger()  # each example starts with nothing seen
    emitted = [
        e["messageStatus"]
        for value in order
        for e in shared_host.receive(STATUS, signed(status(value)), connection=CONNECTION).events
    ]
    ranks = {"sending": 1, "sent": 2, "delivered": 3, "read": 4}
    assert [ranks[s] for s in emitted] == sorted({ranks[s] for s in emitted})
    assert (emitted[0] if emitted else None) == (order[0] if order else None)


def test_a_component_without_a_handler_for_a_trigger_is_refused() -> None:
    descriptor = load_descriptor(read_text("component.yaml"))

    def nothing(invocation: Invocation) -> dict[str, Any]:
        return {}

    handlers = {a.name: nothing for a in descriptor.actions}
    from twilio_component.twilio.output import SHAPES
    from twilio_component.twilio.rules import twilio_rules
    from twilio_component.twilio.triggers import TRIGGER_SHAPES

    component = Component(
        descriptor, handlers=handlers, rules=twilio_rules(), shapes=SHAPES | TRIGGER_SHAPES
    )
    with pytest.raises(ComponentError, match="no handler for trigger"):
        Host([component])


# -- enabling the dynamic webhook against the sandbox's IncomingPhoneNumbers -----------------------


@pytest.fixture
def sandbox_host(twilio_sandbox: Sandbox) -> Iterator[Host]:
    with Host.load(Settings(base_url=twilio_sandbox.base_url)) as loaded:
        yield loaded


def enable(host: Host, sandbox: Sandbox, url: str, **options: Any) -> dict[str, Any]:
    return host.enable_trigger(
        INCOMING,
        {"PhoneNumber": "+15005550006"},
        connection=sandbox.connection,
        webhook_url=url,
        **options,
    )


def test_enabling_points_the_numbers_sms_url_here_and_disabling_restores_it(
    sandbox_host: Host, twilio_sandbox: Sandbox
) -> None:
    before = twilio_sandbox.phone_number("+15005550006")
    state = enable(sandbox_host, twilio_sandbox, URL)
    assert twilio_sandbox.phone_number("+15005550006")["sms_url"] == URL
    assert twilio_sandbox.phone_number("+15005550006")["sms_method"] == "POST"
    sandbox_host.disable_trigger(
        INCOMING,
        {"PhoneNumber": "+15005550006"},
        connection=twilio_sandbox.connection,
        webhook_url=URL,
        state=json.loads(json.dumps(state)),
    )
    after = twilio_sandbox.phone_number("+15005550006")
    assert (after["sms_url"], after["sms_method"]) == (before["sms_url"], before["sms_method"])


def test_enabling_refuses_to_take_over_a_url_set_to_something_else(
    sandbox_host: Host, twilio_sandbox: Sandbox
) -> None:
    enable(sandbox_host, twilio_sandbox, "https://other.example.com/sms")
    with pytest.raises(TriggerConflictError) as caught:
        enable(sandbox_host, twilio_sandbox, URL)
    assert caught.value.current == "https://other.example.com/sms"
    assert "https://other.example.com/sms" in str(caught.value)
    assert twilio_sandbox.phone_number("+15005550006")["sms_url"] == "https://other.example.com/sms"


def test_take_over_replaces_it_and_remembers_it_for_disabling(
    sandbox_host: Host, twilio_sandbox: Sandbox
) -> None:
    enable(sandbox_host, twilio_sandbox, "https://other.example.com/sms")
    state = enable(sandbox_host, twilio_sandbox, URL, take_over=True)
    assert state["sms_url"] == "https://other.example.com/sms"
    assert twilio_sandbox.phone_number("+15005550006")["sms_url"] == URL


def test_enabling_a_number_the_account_does_not_own_says_so(
    sandbox_host: Host, twilio_sandbox: Sandbox
) -> None:
    with pytest.raises(ConnectionConfigError, match="not one of this account's phone numbers"):
        sandbox_host.enable_trigger(
            INCOMING,
            {"PhoneNumber": "+15551112222"},
            connection=twilio_sandbox.connection,
            webhook_url=URL,
        )
