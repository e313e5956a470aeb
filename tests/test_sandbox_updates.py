"""Specification of UpdateMessage (cancel, redact), a message's Media, the Account, JSON bodies."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from openapi import MESSAGE_PATH, MESSAGES_PATH, assert_valid_error, assert_valid_response

from twilio_component.sandbox import ManualClock, Sandbox

MEDIA_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media.json"
ACCOUNT_PATH = "/2010-04-01/Accounts/{Sid}.json"
SENDER = "+15005550006"
RECIPIENT = "+15558675310"
SERVICE = "MG" + "c" * 32
START = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
SEND_AT = (START + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Api:
    """Raw HTTP to one sandbox account over a keep-alive requests session."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.session = requests.Session()
        self.session.auth = (sandbox.account_sid, sandbox.auth_token)
        self.root = f"{sandbox.base_url}/2010-04-01/Accounts/{sandbox.account_sid}"

    def created(self, **form: str | list[str]) -> dict[str, Any]:
        fields: dict[str, str | list[str]] = {"To": RECIPIENT, "From": SENDER, "Body": "Hello"}
        fields.update(form)
        data = {name: value for name, value in fields.items() if value}
        response = self.session.post(f"{self.root}/Messages.json", data=data, timeout=5)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def scheduled(self, **form: str) -> dict[str, Any]:
        fields = {"From": "", "MessagingServiceSid": SERVICE, "ScheduleType": "fixed"}
        fields.update(SendAt=SEND_AT, **form)
        return self.created(**fields)

    def update(self, sid: str, **form: str) -> requests.Response:
        return self.session.post(f"{self.root}/Messages/{sid}.json", data=form, timeout=5)

    def updated(self, sid: str, **form: str) -> dict[str, Any]:
        response = self.update(sid, **form)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert_valid_response(MESSAGE_PATH, "post", 200, body)
        return body

    def get(self, uri: str) -> requests.Response:
        return self.session.get(self.sandbox.base_url + uri, timeout=5)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def sandbox(clock: ManualClock) -> Iterator[Sandbox]:
    with Sandbox(clock=clock) as running:
        yield running


@pytest.fixture
def api(sandbox: Sandbox) -> Api:
    return Api(sandbox)


# --- UpdateMessage: cancel ----------------------------------------------------------------------


def test_cancel_of_a_scheduled_message_answers_it_canceled(api: Api) -> None:
    sid = api.scheduled()["sid"]
    canceled = api.updated(sid, Status="canceled")
    assert (canceled["sid"], canceled["status"]) == (sid, "canceled")


def test_canceled_message_is_never_sent(api: Api, sandbox: Sandbox) -> None:
    sid = api.scheduled()["sid"]
    api.updated(sid, Status="canceled")
    sandbox.advance(3700)
    assert sandbox.message(sid)["status"] == "canceled"
    assert sandbox.message(sid)["date_sent"] is None


def test_cancel_stamps_date_updated(api: Api, clock: ManualClock) -> None:
    sid = api.scheduled()["sid"]
    clock.advance(60)
    assert api.updated(sid, Status="canceled")["date_updated"] == "Tue, 01 Jan 2030 12:01:00 +0000"


def test_cancel_of_a_message_not_scheduled_gets_30409(api: Api, sandbox: Sandbox) -> None:
    sid = api.created()["sid"]
    response = api.update(sid, Status="canceled")
    assert (response.status_code, response.json()["code"]) == (400, 30409)
    assert_valid_error(response.json(), 400)
    assert sandbox.message(sid)["status"] == "queued"


def test_cancel_after_send_at_has_passed_gets_30409(api: Api, sandbox: Sandbox) -> None:
    sid = api.scheduled()["sid"]
    sandbox.advance(3600)
    assert api.update(sid, Status="canceled").json()["code"] == 30409


def test_cancel_twice_gets_30409_the_second_time(api: Api) -> None:
    sid = api.scheduled()["sid"]
    api.updated(sid, Status="canceled")
    assert api.update(sid, Status="canceled").json()["code"] == 30409


def test_update_of_an_unknown_message_gets_20404(api: Api) -> None:
    response = api.update("SM" + "0" * 32, Status="canceled")
    assert (response.status_code, response.json()["code"]) == (404, 20404)
    assert_valid_error(response.json(), 404)


# --- UpdateMessage: redact ----------------------------------------------------------------------


def test_empty_body_redacts_the_message_text(api: Api, sandbox: Sandbox) -> None:
    sid = api.created(Body="secret code 123456")["sid"]
    sandbox.advance(5)
    redacted = api.updated(sid, Body="")
    assert (redacted["body"], redacted["status"]) == ("", "delivered")
    assert sandbox.message(sid)["body"] == ""


def test_redacted_body_stays_empty_when_fetched_and_listed(api: Api) -> None:
    sid = api.created(Body="secret")["sid"]
    api.updated(sid, Body="")
    fetched = api.get(f"/2010-04-01/Accounts/{api.sandbox.account_sid}/Messages/{sid}.json")
    listed = api.session.get(f"{api.root}/Messages.json", timeout=5).json()
    assert fetched.json()["body"] == ""
    assert [m["body"] for m in listed["messages"]] == [""]


# --- Media ------------------------------------------------------------------------------------


def test_media_of_an_sms_is_an_empty_list_in_the_spec_shape(api: Api) -> None:
    created = api.created()
    response = api.get(created["subresource_uris"]["media"])
    assert response.status_code == 200
    assert_valid_response(MEDIA_PATH, "get", 200, response.json())
    assert response.json()["media_list"] == []
    assert response.json()["next_page_uri"] is None


def test_media_of_an_mms_lists_one_item_per_media_url(api: Api) -> None:
    urls = ["https://example.com/cat.jpg", "https://example.com/doc.pdf"]
    created = api.created(MediaUrl=urls)
    listing = api.get(created["subresource_uris"]["media"]).json()
    assert_valid_response(MEDIA_PATH, "get", 200, listing)
    media = listing["media_list"]
    assert [m["content_type"] for m in media] == ["image/jpeg", "application/pdf"]
    assert all(m["parent_sid"] == created["sid"] for m in media)
    assert all(re.fullmatch(r"ME[0-9a-f]{32}", m["sid"]) for m in media)
    assert all(m["uri"].startswith(created["uri"].removesuffix(".json") + "/Media/") for m in media)


def test_media_of_an_unknown_message_gets_20404(api: Api) -> None:
    response = api.session.get(f"{api.root}/Messages/SM{'0' * 32}/Media.json", timeout=5)
    assert (response.status_code, response.json()["code"]) == (404, 20404)


# --- Account ----------------------------------------------------------------------------------


def test_account_fetch_answers_the_account_resource(api: Api, sandbox: Sandbox) -> None:
    response = api.session.get(f"{api.root}.json", timeout=5)
    assert response.status_code == 200
    assert_valid_response(ACCOUNT_PATH, "get", 200, response.json())
    account = response.json()
    assert (account["sid"], account["status"]) == (sandbox.account_sid, "active")
    assert account["subresource_uris"]["messages"] == (
        f"/2010-04-01/Accounts/{sandbox.account_sid}/Messages.json"
    )


def test_account_fetch_never_shows_the_auth_token(api: Api, sandbox: Sandbox) -> None:
    response = api.session.get(f"{api.root}.json", timeout=5)
    assert sandbox.auth_token not in response.text
    assert response.json()["auth_token"] is None


def test_account_fetch_needs_credentials(api: Api) -> None:
    response = requests.get(f"{api.root}.json", timeout=5)
    assert (response.status_code, response.json()["code"]) == (401, 20003)


def test_fetch_of_another_account_gets_20003(api: Api, sandbox: Sandbox) -> None:
    response = api.get(f"/2010-04-01/Accounts/AC{'0' * 32}.json")
    assert (response.status_code, response.json()["code"]) == (401, 20003)
    assert_valid_error(response.json(), 401)


# --- JSON bodies ------------------------------------------------------------------------------


def test_create_sent_as_json_is_refused_with_21604_and_creates_nothing(
    api: Api, sandbox: Sandbox
) -> None:
    response = api.session.post(
        f"{api.root}/Messages.json",
        json={"To": RECIPIENT, "From": SENDER, "Body": "as JSON"},
        timeout=5,
    )
    assert (response.status_code, response.json()["code"]) == (400, 21604)
    assert "application/x-www-form-urlencoded" in response.json()["message"]
    assert_valid_error(response.json(), 400)
    assert sandbox.messages == []


def test_json_content_type_refuses_even_a_form_shaped_body(api: Api, sandbox: Sandbox) -> None:
    response = api.session.post(
        f"{api.root}/Messages.json",
        data=f"To=%2B15558675310&From=%2B15005550006&Body=x&Sender={SENDER}",
        headers={"Content-Type": "application/json; charset=utf-8"},
        timeout=5,
    )
    assert response.json()["code"] == 21604
    assert sandbox.messages == []


def test_update_sent_as_json_is_refused_with_20001_and_changes_nothing(
    api: Api, sandbox: Sandbox
) -> None:
    sid = api.scheduled()["sid"]
    response = api.session.post(
        f"{api.root}/Messages/{sid}.json", json={"Status": "canceled"}, timeout=5
    )
    assert (response.status_code, response.json()["code"]) == (400, 20001)
    assert_valid_error(response.json(), 400)
    assert sandbox.message(sid)["status"] == "scheduled"


def test_form_encoded_create_still_answers_per_spec(api: Api) -> None:
    assert_valid_response(MESSAGES_PATH, "post", 201, api.created())
