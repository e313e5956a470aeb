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
