"""Specification: the official twilio SDK works unchanged against the sandbox, answers per spec."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openapi import MESSAGE_PATH, MESSAGES_PATH, assert_valid_error, assert_valid_response
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from twilio_component.sandbox import Sandbox

SENDER = "+15005550006"
RECIPIENT = "+15558675310"
SERVICE = "MG" + "d" * 32
NUMBERS_PATH = "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json"
NUMBER_PATH = "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json"


class ObservingHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The SDK's own HTTP client, unchanged, keeping each response so tests can check it."""

    def __init__(self) -> None:
        super().__init__()
        self.responses: list[Response] = []

    def request(self, *args: Any, **kwargs: Any) -> Response:
        response = super().request(*args, **kwargs)
        self.responses.append(response)
        return response


def sdk_client(sandbox: Sandbox, *, password: str | None = None) -> Client:
    # The SDK builds every URL from its API domain's `base_url` ("https://api.twilio.com");
    # pointing that attribute at the sandbox is the only change. `environment={}` keeps
    # TWILIO_EDGE/TWILIO_REGION from this machine's environment out of the test.
    client = Client(
        sandbox.account_sid,
        password if password is not None else sandbox.auth_token,
        http_client=ObservingHttpClient(),
        environment={},
    )
    client.api.base_url = sandbox.base_url
    return client


def last_answer(client: Client) -> tuple[int, Any]:
    response = client.http_client.responses[-1]
    return response.status_code, json.loads(response.text)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


def test_sdk_creates_a_message_answered_as_the_spec_says(sandbox: Sandbox) -> None:
    client = sdk_client(sandbox)
    message = client.messages.create(to=RECIPIENT, from_=SENDER, body="Hello from the SDK")
    status, body = last_answer(client)
    assert status == 201
    assert_valid_response(MESSAGES_PATH, "post", 201, body)
    assert message.sid.startswith("SM")
    assert message.status == "queued"
    assert message.to == RECIPIENT
    assert message.from_ == SENDER
    assert message.num_segments == "1"
    assert message.account_sid == sandbox.account_sid


def test_sdk_fetches_a_message_by_sid(sandbox: Sandbox) -> None:
    client = sdk_client(sandbox)
    created = client.messages.create(to=RECIPIENT, from_=SENDER, body="Fetch me")
    fetched = client.messages(created.sid).fetch()
    status, body = last_answer(client)
    assert status == 200
    assert_valid_response(MESSAGE_PATH, "get", 200, body)
    assert fetched.sid == created.sid
    assert fetched.body == "Fetch me"


def test_sdk_lists_messages_by_recipient_across_pages(sandbox: Sandbox) -> None:
    client = sdk_client(sandbox)
    wanted = {
        client.messages.create(to=RECIPIENT, from_=SENDER, body=f"n{i}").sid for i in range(5)
    }
    client.messages.create(to="+15558675311", from_=SENDER, body="someone else")
    listed = client.messages.list(to=RECIPIENT, page_size=2)
    assert [m.sid for m in listed] == [m.sid for m in listed if m.sid in wanted]
    assert {m.sid for m in listed} == wanted
    pages = client.http_client.responses[-3:]
    assert [r.status_code for r in pages] == [200, 200, 200]
    for response in pages:
        assert_valid_response(MESSAGES_PATH, "get", 200, json.loads(response.text))


def test_sdk_lists_newest_first(sandbox: Sandbox) -> None:
    client = sdk_client(sandbox)
    sids = [client.messages.create(to=RECIPIENT, from_=SENDER, body=f"n{i}").sid for i in range(3)]
    assert [m.sid for m in client.messages.list(to=RECIPIENT)] == sids[::-1]


@pytest.mark.parametrize(
    ("to", "from_", "code"),
    [
        (RECIPIENT, "+15005550001", 21212),
        (RECIPIENT, "+15005550007", 21606),
        (RECIPIENT, "+15005550008", 21611),
        (RECIPIENT, "+15558675399", 21606),
        ("+15005550001", SENDER, 21211),
        ("+15005550002", SENDER, 21612),
        ("+15005550003", SENDER, 21408),
        ("+15005550004", SENDER, 21610),
        ("+15005550009", SENDER, 21614),
    ],
)
def test_sdk_gets_twilio_error_code_for_each_magic_number(
    sandbox: Sandbox, to: str, from_: str, code: int
) -> None:
    client = sdk_client(sandbox)
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=to, from_=from_, body="magic")
    assert raised.value.code == code
    assert raised.value.status == 400
    status, body = last_answer(client)
    assert_valid_error(body, status)
    assert sandbox.messages == []


def test_sdk_gets_21617_for_a_body_of_1601_characters(sandbox: Sandbox) -> None:
    client = sdk_client(sandbox)
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=RECIPIENT, from_=SENDER, body="x" * 1601)
    assert raised.value.code == 21617
    assert_valid_error(last_answer(client)[1], 400)


def test_sdk_accepts_a_body_of_exactly_1600_characters(sandbox: Sandbox) -> None:
    message = sdk_client(sandbox).messages.create(to=RECIPIENT, from_=SENDER, body="x" * 1600)
    assert message.num_segments == "11"


def test_sdk_gets_20003_for_a_wrong_token(sandbox: Sandbox) -> None:
    client = sdk_client(sandbox, password="0" * 32)
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=RECIPIENT, from_=SENDER, body="nope")
    assert raised.value.code == 20003
    assert raised.value.status == 401
    assert_valid_error(last_answer(client)[1], 401)
    assert sandbox.messages == []


def test_sdk_gets_20404_for_an_unknown_message(sandbox: Sandbox) -> None:
    client = sdk_client(sandbox)
    with pytest.raises(TwilioRestException) as raised:
        client.messages("SM" + "0" * 32).fetch()
    assert raised.value.code == 20404
    assert_valid_error(last_answer(client)[1], 404)


@pytest.mark.parametrize(("letters", "segments"), [(68, "1"), (69, "2"), (133, "3")])
def test_an_emoji_and_letters_count_segments_as_ucs2(
    sandbox: Sandbox, letters: int, segments: str
) -> None:
    message = sdk_client(sandbox).messages.create(
        to=RECIPIENT, from_=SENDER, body="\U0001f600" + "a" * letters
    )
    assert message.num_segments == segments


def test_smart_encoding_counts_segments_after_replacement(sandbox: Sandbox) -> None:
    body = "\u201cquoted\u201d" + "a" * 155  # 163 characters: 3 UCS-2 segments, 2 GSM-7
    client = sdk_client(sandbox)
    plain = client.messages.create(to=RECIPIENT, from_=SENDER, body=body)
    smart = client.messages.create(to=RECIPIENT, from_=SENDER, body=body, smart_encoded=True)
    assert (plain.num_segments, smart.num_segments) == ("3", "2")


def test_sdk_with_an_api_key_creates_in_the_account(sandbox: Sandbox) -> None:
    key, secret = "SK" + "1" * 32, "key-secret"
    sandbox.add_api_key(key, secret)
    client = Client(key, secret, sandbox.account_sid, environment={})
    client.api.base_url = sandbox.base_url
    message = client.messages.create(to=RECIPIENT, from_=SENDER, body="via key")
    assert message.account_sid == sandbox.account_sid
    assert sandbox.requests[-1].auth_username == key


def scheduled_message(client: Client) -> Any:
    return client.messages.create(
        to=RECIPIENT,
        messaging_service_sid=SERVICE,
        body="Later",
        schedule_type="fixed",
        send_at=datetime.now(UTC) + timedelta(hours=1),
    )


def test_sdk_cancels_a_scheduled_message(sandbox: Sandbox) -> None:
    client = sdk_client(sandbox)
    created = scheduled_message(client)
    assert created.status == "scheduled"
    canceled = client.messages(created.sid).update(status="canceled")
    status, body = last_answer(client)
    assert status == 200
    assert_valid_response(MESSAGE_PATH, "post", 200, body)
    assert canceled.status == "canceled"
    assert client.messages(created.sid).fetch().status == "canceled"


def test_sdk_gets_30409_canceling_a_message_that_is_not_scheduled(sandbox: Sandbox) -> None:
    client = sdk_client(sandbox)
    created = client.messages.create(to=RECIPIENT, from_=SENDER, body="now")
    with pytest.raises(TwilioRestException) as raised:
        client.messages(created.sid).update(status="canceled")
    assert (raised.value.status, raised.value.code) == (400, 30409)
    assert_valid_error(last_answer(client)[1], 400)


def test_sdk_redacts_a_message_body(sandbox: Sandbox) -> None:
    client = sdk_client(sandbox)
    created = client.messages.create(to=RECIPIENT, from_=SENDER, body="code 123456")
    redacted = client.messages(created.sid).update(body="")
    assert_valid_response(MESSAGE_PATH, "post", 200, last_answer(client)[1])
    assert redacted.body == ""
    assert client.messages(created.sid).fetch().body == ""


def test_sdk_lists_a_messages_media(sandbox: Sandbox) -> None:
    client = sdk_client(sandbox)
    created = client.messages.create(
        to=RECIPIENT, from_=SENDER, media_url=["https://example.com/a.png"]
    )
    media = client.messages(created.sid).media.list()
    assert [(m.parent_sid, m.content_type) for m in media] == [(created.sid, "image/png")]


def test_sdk_lists_no_media_for_an_sms(sandbox: Sandbox) -> None:
    client = sdk_client(sandbox)
    created = client.messages.create(to=RECIPIENT, from_=SENDER, body="text only")
    assert client.messages(created.sid).media.list() == []


def test_sdk_fetches_the_account(sandbox: Sandbox) -> None:
    client = sdk_client(sandbox)
    account = client.api.v2010.accounts(sandbox.account_sid).fetch()
    assert (account.sid, account.status) == (sandbox.account_sid, "active")


def test_sdk_lists_incoming_phone_numbers_by_phone_number(sandbox: Sandbox) -> None:
    client = sdk_client(sandbox)
    listed = client.incoming_phone_numbers.list(phone_number=SENDER)
    status, body = last_answer(client)
    assert status == 200
    assert_valid_response(NUMBERS_PATH, "get", 200, body)
    assert [n.phone_number for n in listed] == [SENDER]
    assert listed[0].sid == sandbox.phone_number(SENDER)["sid"]


def test_sdk_updates_a_numbers_sms_url(sandbox: Sandbox) -> None:
    client = sdk_client(sandbox)
    sid = client.incoming_phone_numbers.list(phone_number=SENDER)[0].sid
    updated = client.incoming_phone_numbers(sid).update(
        sms_url="http://127.0.0.1:8080/sms", sms_method="POST"
    )
    assert_valid_response(NUMBER_PATH, "post", 200, last_answer(client)[1])
    assert updated.sms_url == "http://127.0.0.1:8080/sms"
    assert sandbox.phone_number(SENDER)["sms_url"] == "http://127.0.0.1:8080/sms"
    assert client.incoming_phone_numbers(sid).fetch().sms_url == "http://127.0.0.1:8080/sms"


def test_sdk_message_with_status_callback_gets_none_for_its_initial_status(
    sandbox: Sandbox,
) -> None:
    client = sdk_client(sandbox)
    created = client.messages.create(
        to=RECIPIENT, from_=SENDER, body="tell me", status_callback="http://127.0.0.1:9/status"
    )
    assert created.status == "queued"
    sandbox.settle(timeout=10)
    statuses = [record.params["MessageStatus"] for record in sandbox.callbacks]
    assert statuses == ["sending", "sent", "delivered"]


def test_sdk_scheduled_message_gets_no_callback_until_canceled(sandbox: Sandbox) -> None:
    client = sdk_client(sandbox)
    created = client.messages.create(
        to=RECIPIENT,
        messaging_service_sid=SERVICE,
        body="Later",
        schedule_type="fixed",
        send_at=datetime.now(UTC) + timedelta(hours=1),
        status_callback="http://127.0.0.1:9/status",
    )
    sandbox.settle(timeout=10)
    assert sandbox.callbacks == []
    client.messages(created.sid).update(status="canceled")
    sandbox.settle(timeout=10)
    assert [record.params["MessageStatus"] for record in sandbox.callbacks] == ["canceled"]


@pytest.mark.parametrize(
    ("to", "from_", "code"),
    [
        ("whatsapp:" + RECIPIENT, SENDER, 21910),
        (RECIPIENT, "whatsapp:" + SENDER, 21910),
        ("+12", SENDER, 21211),
        (RECIPIENT, "+12", 21212),
        ("sms:" + RECIPIENT, SENDER, 21211),
        ("messenger:1234567890", SENDER, 21211),
    ],
)
def test_sdk_gets_twilio_error_for_a_bad_address_or_channel_pair(
    sandbox: Sandbox, to: str, from_: str, code: int
) -> None:
    client = sdk_client(sandbox)
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=to, from_=from_, body="channels")
    assert (raised.value.status, raised.value.code) == (400, code)
    assert_valid_error(last_answer(client)[1], 400)
    assert sandbox.messages == []


def test_sdk_sends_whatsapp_to_whatsapp(sandbox: Sandbox) -> None:
    message = sdk_client(sandbox).messages.create(
        to="whatsapp:" + RECIPIENT, from_="whatsapp:" + SENDER, body="hola"
    )
    assert (message.to, message.from_) == ("whatsapp:" + RECIPIENT, "whatsapp:" + SENDER)
