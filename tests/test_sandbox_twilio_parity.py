"""Specification: UpdateMessage refuses what Twilio refuses, Media lists filter by DateCreated
and fetch by their URIs, IncomingPhoneNumbers updates refuse bad URLs and methods.

The official `twilio` SDK is the client wherever it can express the request (it validates
nothing itself); raw HTTP otherwise. Every answer is checked against the official OpenAPI
description (tests/data), errors against Twilio's error shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from openapi import MESSAGE_PATH, assert_valid_error, assert_valid_response
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from twilio_component.sandbox import ManualClock, Sandbox

SENDER = "+15005550006"
RECIPIENT = "+15558675310"
SERVICE = "MG" + "e" * 32
START = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
SEND_AT = START + timedelta(hours=1)


class ObservingHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The SDK's own HTTP client, unchanged, keeping each response so tests can check it."""

    def __init__(self) -> None:
        super().__init__()
        self.responses: list[Response] = []

    def request(self, *args: Any, **kwargs: Any) -> Response:
        response = super().request(*args, **kwargs)
        self.responses.append(response)
        return response


def sdk_client(sandbox: Sandbox) -> Client:
    """The official client, pointed at the sandbox (its API domain's base_url) and nothing else."""
    client = Client(
        sandbox.account_sid,
        sandbox.auth_token,
        http_client=ObservingHttpClient(),
        environment={},
    )
    client.api.base_url = sandbox.base_url
    return client


def last_answer(client: Client) -> tuple[int, Any]:
    """The status and JSON body of the last response the SDK received."""
    response = client.http_client.responses[-1]
    return response.status_code, json.loads(response.text)


def refused(client: Client, call: Any) -> TwilioRestException:
    """The SDK's exception for a refused request, its body checked against Twilio's error shape."""
    with pytest.raises(TwilioRestException) as raised:
        call()
    status, body = last_answer(client)
    assert_valid_error(body, status)
    assert (body["code"], body["status"]) == (raised.value.code, raised.value.status)
    return raised.value


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def sandbox(clock: ManualClock) -> Iterator[Sandbox]:
    with Sandbox(clock=clock) as running:
        yield running


@pytest.fixture
def client(sandbox: Sandbox) -> Client:
    return sdk_client(sandbox)


def scheduled(client: Client, body: str = "Later") -> Any:
    return client.messages.create(
        to=RECIPIENT,
        messaging_service_sid=SERVICE,
        body=body,
        schedule_type="fixed",
        send_at=SEND_AT,
    )


# --- UpdateMessage ------------------------------------------------------------------------------


def test_update_with_no_parameters_gets_400_30400(client: Client, sandbox: Sandbox) -> None:
    sid = client.messages.create(to=RECIPIENT, from_=SENDER, body="Same").sid
    before = sandbox.message(sid)
    error = refused(client, lambda: client.messages(sid).update())
    assert (error.status, error.code) == (400, 30400)
    assert sandbox.message(sid) == before


def test_update_with_a_status_other_than_canceled_gets_400_30400(
    client: Client, sandbox: Sandbox
) -> None:
    sid = scheduled(client).sid
    error = refused(client, lambda: client.messages(sid).update(status="bogus"))
    assert (error.status, error.code) == (400, 30400)
    assert sandbox.message(sid)["status"] == "scheduled"


def test_update_with_an_empty_status_gets_400_30400(client: Client, sandbox: Sandbox) -> None:
    sid = scheduled(client).sid
    error = refused(client, lambda: client.messages(sid).update(status=""))
    assert (error.status, error.code) == (400, 30400)
    assert sandbox.message(sid)["status"] == "scheduled"


def test_update_with_a_non_empty_body_gets_400_30400(client: Client, sandbox: Sandbox) -> None:
    sid = client.messages.create(to=RECIPIENT, from_=SENDER, body="original").sid
    error = refused(client, lambda: client.messages(sid).update(body="new"))
    assert (error.status, error.code) == (400, 30400)
    assert sandbox.message(sid)["body"] == "original"


def test_cancel_and_redact_together_get_400_30400_and_apply_neither(
    client: Client, sandbox: Sandbox
) -> None:
    sid = scheduled(client, body="Secret").sid
    before = sandbox.message(sid)
    error = refused(client, lambda: client.messages(sid).update(status="canceled", body=""))
    assert (error.status, error.code) == (400, 30400)
    assert sandbox.message(sid) == before
    sandbox.advance(3600)
    assert sandbox.message(sid)["status"] != "canceled"


def test_cancel_of_a_scheduled_message_still_answers_it_canceled(
    client: Client, sandbox: Sandbox
) -> None:
    sid = scheduled(client).sid
    canceled = client.messages(sid).update(status="canceled")
    status, body = last_answer(client)
    assert status == 200
    assert_valid_response(MESSAGE_PATH, "post", 200, body)
    assert (canceled.sid, canceled.status) == (sid, "canceled")
    assert sandbox.message(sid)["status"] == "canceled"


def test_redaction_with_an_empty_body_still_answers_it_redacted(
    client: Client, sandbox: Sandbox
) -> None:
    sid = client.messages.create(to=RECIPIENT, from_=SENDER, body="code 123456").sid
    redacted = client.messages(sid).update(body="")
    status, body = last_answer(client)
    assert status == 200
    assert_valid_response(MESSAGE_PATH, "post", 200, body)
    assert redacted.body == ""
    assert sandbox.message(sid)["body"] == ""


# --- Media: DateCreated filters, paging URIs, fetch by URI ------------------------------------

MEDIA_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media.json"
MEDIA_ITEM_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{Sid}.json"
PICTURES = ["https://example.com/a.png", "https://example.com/b.jpg", "https://example.com/c.gif"]


class Raw:
    """Raw HTTP to one sandbox account, for what the SDK cannot express."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.base_url = sandbox.base_url
        self.session = requests.Session()
        self.session.auth = (sandbox.account_sid, sandbox.auth_token)

    def get(self, uri: str, **query: str) -> requests.Response:
        return self.session.get(self.base_url + uri, params=query)

    def page(self, uri: str, **query: str) -> dict[str, Any]:
        response = self.get(uri, **query)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert_valid_response(MEDIA_PATH, "get", 200, body)
        return body


@pytest.fixture
def raw(sandbox: Sandbox) -> Raw:
    return Raw(sandbox)


@pytest.fixture
def mms(client: Client) -> Any:
    """A message with three media, created 2030-01-01 12:00:00 UTC."""
    return client.messages.create(to=RECIPIENT, from_=SENDER, media_url=PICTURES)


def media_uri(message: Any) -> str:
    return str(message.subresource_uris["media"])


@pytest.mark.parametrize(
    ("name", "value", "count"),
    [
        ("DateCreated", "2030-01-01", 3),
        ("DateCreated", "2030-01-02", 0),
        ("DateCreated>", "2030-01-01T12:00:00Z", 3),
        ("DateCreated>", "2030-01-01T12:00:01Z", 0),
        ("DateCreated<", "2030-01-01T12:00:00Z", 3),
        ("DateCreated<", "2030-01-01T11:59:59Z", 0),
        ("DateCreated<", "2030-01-01", 3),
        ("DateCreated<", "2029-12-31", 0),
    ],
)
def test_media_list_honours_each_date_created_filter(
    raw: Raw, mms: Any, name: str, value: str, count: int
) -> None:
    listed = raw.page(media_uri(mms), **{name: value})
    assert len(listed["media_list"]) == count


def test_sdk_media_list_sends_date_created_filters_that_are_honoured(
    client: Client, mms: Any
) -> None:
    media = client.messages(mms.sid).media
    assert len(media.list(date_created_after=START)) == 3
    assert media.list(date_created_after=START + timedelta(seconds=1)) == []
    assert media.list(date_created_before=START - timedelta(seconds=1)) == []
    assert len(media.list(date_created="2030-01-01")) == 3


def test_media_list_keeps_its_date_filter_in_every_page_uri(raw: Raw, mms: Any) -> None:
    path = media_uri(mms)
    first = raw.page(path, PageSize="1", **{"DateCreated>": "2030-01-01"})
    prefix = f"{path}?DateCreated%3E=2030-01-01&PageSize=1&Page="
    assert (first["uri"], first["first_page_uri"]) == (f"{prefix}0", f"{prefix}0")
    assert first["next_page_uri"] == f"{prefix}1"
    second = raw.page(first["next_page_uri"])
    assert (second["uri"], second["first_page_uri"]) == (f"{prefix}1", f"{prefix}0")
    assert (second["previous_page_uri"], second["next_page_uri"]) == (f"{prefix}0", f"{prefix}2")
    third = raw.page(second["next_page_uri"])
    assert third["next_page_uri"] is None
    sids = [page["media_list"][0]["sid"] for page in (first, second, third)]
    assert len(set(sids)) == 3


def test_media_list_keeps_every_date_filter_in_the_order_the_spec_lists_them(
    raw: Raw, mms: Any
) -> None:
    query = {
        "DateCreated>": "2029-12-31",
        "DateCreated<": "2030-01-02",
        "DateCreated": "2030-01-01",
    }
    listed = raw.page(media_uri(mms), **query)
    assert listed["uri"] == (
        f"{media_uri(mms)}?DateCreated=2030-01-01&DateCreated%3C=2030-01-02"
        "&DateCreated%3E=2029-12-31&PageSize=50&Page=0"
    )
    assert len(listed["media_list"]) == 3


def test_media_list_with_a_date_that_is_not_a_date_gets_400_20001(raw: Raw, mms: Any) -> None:
    response = raw.get(media_uri(mms), **{"DateCreated<": "yesterday"})
    assert (response.status_code, response.json()["code"]) == (400, 20001)
    assert_valid_error(response.json(), 400)


def test_media_item_is_fetched_by_the_uri_the_list_gives(raw: Raw, mms: Any) -> None:
    listed = raw.page(media_uri(mms))["media_list"]
    for item in listed:
        response = raw.get(item["uri"])
        assert response.status_code == 200, response.text
        assert_valid_response(MEDIA_ITEM_PATH, "get", 200, response.json())
        assert response.json() == item


def test_sdk_fetches_a_media_item(client: Client, mms: Any) -> None:
    [first, *_] = client.messages(mms.sid).media.list()
    fetched = client.messages(mms.sid).media(first.sid).fetch()
    status, body = last_answer(client)
    assert status == 200
    assert_valid_response(MEDIA_ITEM_PATH, "get", 200, body)
    assert (fetched.sid, fetched.parent_sid, fetched.content_type) == (
        first.sid,
        mms.sid,
        "image/png",
    )


def test_fetch_of_an_unknown_media_item_gets_404_20404(client: Client, mms: Any) -> None:
    error = refused(client, lambda: client.messages(mms.sid).media("ME" + "0" * 32).fetch())
    assert (error.status, error.code) == (404, 20404)


def test_fetch_of_media_of_an_unknown_message_gets_404_20404(client: Client, mms: Any) -> None:
    [first, *_] = client.messages(mms.sid).media.list()
    error = refused(client, lambda: client.messages("MM" + "0" * 32).media(first.sid).fetch())
    assert (error.status, error.code) == (404, 20404)


# --- IncomingPhoneNumbers: URLs and methods ---------------------------------------------------

NUMBER_PATH = "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json"
URL_PARAMETERS = [
    "sms_url",
    "sms_fallback_url",
    "status_callback",
    "voice_url",
    "voice_fallback_url",
]
METHOD_PARAMETERS = [
    "sms_method",
    "sms_fallback_method",
    "status_callback_method",
    "voice_method",
    "voice_fallback_method",
]


def number_sid(sandbox: Sandbox) -> str:
    return str(sandbox.phone_number(SENDER)["sid"])


@pytest.mark.parametrize("parameter", URL_PARAMETERS)
@pytest.mark.parametrize("url", ["not-a-url", "ftp://example.com/sms", "example.com/sms"])
def test_number_update_with_a_url_that_is_not_http_gets_400_21402_and_changes_nothing(
    client: Client, sandbox: Sandbox, parameter: str, url: str
) -> None:
    before = sandbox.phone_number(SENDER)
    number = client.incoming_phone_numbers(number_sid(sandbox))
    error = refused(client, lambda: number.update(**{parameter: url}))
    assert (error.status, error.code) == (400, 21402)
    assert sandbox.phone_number(SENDER) == before


@pytest.mark.parametrize("parameter", METHOD_PARAMETERS)
@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "HEAD", "bogus"])
def test_number_update_with_a_method_other_than_get_or_post_gets_400_21403(
    client: Client, sandbox: Sandbox, parameter: str, method: str
) -> None:
    before = sandbox.phone_number(SENDER)
    number = client.incoming_phone_numbers(number_sid(sandbox))
    error = refused(client, lambda: number.update(**{parameter: method}))
    assert (error.status, error.code) == (400, 21403)
    assert sandbox.phone_number(SENDER) == before


def test_number_update_with_a_good_url_and_a_bad_method_applies_neither(
    client: Client, sandbox: Sandbox
) -> None:
    number = client.incoming_phone_numbers(number_sid(sandbox))
    error = refused(
        client, lambda: number.update(sms_url="http://127.0.0.1:9/sms", sms_method="PUT")
    )
    assert error.code == 21403
    assert sandbox.phone_number(SENDER)["sms_url"] == ""


def test_number_update_with_a_good_url_and_method_still_answers_per_spec(
    client: Client, sandbox: Sandbox
) -> None:
    number = client.incoming_phone_numbers(number_sid(sandbox))
    updated = number.update(sms_url="http://127.0.0.1:9/sms", sms_method="GET")
    status, body = last_answer(client)
    assert status == 200
    assert_valid_response(NUMBER_PATH, "post", 200, body)
    assert (updated.sms_url, updated.sms_method) == ("http://127.0.0.1:9/sms", "GET")
