"""Specification of the sandbox's IncomingPhoneNumbers: its numbers listed, fetched, updated."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi import assert_valid_error, assert_valid_response

from twilio_component.sandbox import Sandbox

NUMBERS_PATH = "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json"
NUMBER_PATH = "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json"
MAGIC = "+15005550006"
EXTRA = "+15558675300"
OTHER = "+442071838750"
PN_SID = re.compile(r"PN[0-9a-f]{32}")


class Numbers:
    """Raw HTTP to one sandbox's IncomingPhoneNumbers over a keep-alive session."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.session = requests.Session()
        self.session.auth = (sandbox.account_sid, sandbox.auth_token)
        self.root = f"{sandbox.base_url}/2010-04-01/Accounts/{sandbox.account_sid}"

    def list(self, **query: str) -> requests.Response:
        return self.session.get(f"{self.root}/IncomingPhoneNumbers.json", params=query, timeout=5)

    def listed(self, **query: str) -> dict[str, Any]:
        response = self.list(**query)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert_valid_response(NUMBERS_PATH, "get", 200, body)
        return body

    def sid_of(self, number: str) -> str:
        return str(self.sandbox.phone_number(number)["sid"])

    def fetch(self, sid: str) -> requests.Response:
        return self.session.get(f"{self.root}/IncomingPhoneNumbers/{sid}.json", timeout=5)

    def update(self, sid: str, **form: str) -> requests.Response:
        return self.session.post(
            f"{self.root}/IncomingPhoneNumbers/{sid}.json", data=form, timeout=5
        )

    def updated(self, sid: str, **form: str) -> dict[str, Any]:
        response = self.update(sid, **form)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert_valid_response(NUMBER_PATH, "post", 200, body)
        return body


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(numbers=[EXTRA, OTHER, "MyBrand", "12345"]) as running:
        yield running


@pytest.fixture
def numbers(sandbox: Sandbox) -> Numbers:
    return Numbers(sandbox)


def test_list_holds_the_magic_sender_and_every_given_phone_number(numbers: Numbers) -> None:
    listed = numbers.listed()["incoming_phone_numbers"]
    assert [n["phone_number"] for n in listed] == [MAGIC, EXTRA, OTHER]


def test_each_number_has_a_pn_sid_and_its_own_uri(numbers: Numbers, sandbox: Sandbox) -> None:
    for number in numbers.listed()["incoming_phone_numbers"]:
        assert PN_SID.fullmatch(number["sid"])
        assert number["account_sid"] == sandbox.account_sid
        assert number["uri"] == (
            f"/2010-04-01/Accounts/{sandbox.account_sid}/IncomingPhoneNumbers/{number['sid']}.json"
        )


def test_a_number_starts_with_no_sms_url_and_post_methods(numbers: Numbers) -> None:
    number = numbers.listed(PhoneNumber=MAGIC)["incoming_phone_numbers"][0]
    assert (number["sms_url"], number["sms_method"]) == ("", "POST")
    assert (number["sms_fallback_url"], number["sms_fallback_method"]) == ("", "POST")
    assert (number["status_callback"], number["status_callback_method"]) == ("", "POST")
    assert number["capabilities"]["sms"] is True


def test_phone_number_filter_gives_only_that_number(numbers: Numbers) -> None:
    listed = numbers.listed(PhoneNumber=EXTRA)
    assert [n["phone_number"] for n in listed["incoming_phone_numbers"]] == [EXTRA]
    assert "PhoneNumber=%2B15558675300" in listed["uri"]


def test_phone_number_filter_matches_part_of_a_number_and_star_digits(numbers: Numbers) -> None:
    by_part = numbers.listed(PhoneNumber="5550006")["incoming_phone_numbers"]
    by_star = numbers.listed(PhoneNumber="+1555867530*")["incoming_phone_numbers"]
    assert [n["phone_number"] for n in by_part] == [MAGIC]
    assert [n["phone_number"] for n in by_star] == [EXTRA]


def test_phone_number_filter_that_matches_nothing_gives_an_empty_page(numbers: Numbers) -> None:
    listed = numbers.listed(PhoneNumber="+19998887777")
    assert (listed["incoming_phone_numbers"], listed["next_page_uri"]) == ([], None)


def test_list_pages_link_through_next_page_uri(numbers: Numbers, sandbox: Sandbox) -> None:
    first = numbers.listed(PageSize="2")
    assert (first["page"], first["page_size"], first["start"], first["end"]) == (0, 2, 0, 1)
    assert first["previous_page_uri"] is None
    second = numbers.session.get(sandbox.base_url + first["next_page_uri"], timeout=5).json()
    assert_valid_response(NUMBERS_PATH, "get", 200, second)
    assert [n["phone_number"] for n in second["incoming_phone_numbers"]] == [OTHER]
    assert (second["page"], second["start"], second["end"]) == (1, 2, 2)
    assert second["next_page_uri"] is None
    assert second["previous_page_uri"] == first["uri"]


def test_list_refuses_a_page_size_that_is_not_a_number(numbers: Numbers) -> None:
    response = numbers.list(PageSize="many")
    assert (response.status_code, response.json()["code"]) == (400, 20001)
    assert_valid_error(response.json(), 400)


def test_fetch_answers_the_number(numbers: Numbers) -> None:
    response = numbers.fetch(numbers.sid_of(EXTRA))
    assert response.status_code == 200
    assert_valid_response(NUMBER_PATH, "get", 200, response.json())
    assert response.json()["phone_number"] == EXTRA


def test_fetch_of_an_unknown_number_gets_20404(numbers: Numbers) -> None:
    response = numbers.fetch("PN" + "0" * 32)
    assert (response.status_code, response.json()["code"]) == (404, 20404)
    assert_valid_error(response.json(), 404)


def test_update_sets_the_sms_fields(numbers: Numbers) -> None:
    updated = numbers.updated(
        numbers.sid_of(MAGIC),
        SmsUrl="http://127.0.0.1:8080/sms",
        SmsMethod="GET",
        SmsFallbackUrl="https://example.com/fallback",
        SmsFallbackMethod="GET",
    )
    assert (updated["sms_url"], updated["sms_method"]) == ("http://127.0.0.1:8080/sms", "GET")
    assert (updated["sms_fallback_url"], updated["sms_fallback_method"]) == (
        "https://example.com/fallback",
        "GET",
    )


def test_update_sets_status_callback_and_friendly_name(numbers: Numbers) -> None:
    updated = numbers.updated(
        numbers.sid_of(MAGIC),
        StatusCallback="https://example.com/status",
        StatusCallbackMethod="GET",
        FriendlyName="Support line",
    )
    assert (updated["status_callback"], updated["status_callback_method"]) == (
        "https://example.com/status",
        "GET",
    )
    assert updated["friendly_name"] == "Support line"


def test_update_is_kept_in_the_store(numbers: Numbers, sandbox: Sandbox) -> None:
    sid = numbers.sid_of(EXTRA)
    numbers.updated(sid, SmsUrl="http://127.0.0.1:9/in")
    assert sandbox.phone_number(EXTRA)["sms_url"] == "http://127.0.0.1:9/in"
    assert numbers.fetch(sid).json()["sms_url"] == "http://127.0.0.1:9/in"
    assert sandbox.phone_number(MAGIC)["sms_url"] == ""


def test_update_with_an_empty_sms_url_clears_it(numbers: Numbers) -> None:
    sid = numbers.sid_of(MAGIC)
    numbers.updated(sid, SmsUrl="http://127.0.0.1:9/in")
    assert numbers.updated(sid, SmsUrl="")["sms_url"] == ""


def test_update_leaves_fields_it_does_not_name(numbers: Numbers) -> None:
    sid = numbers.sid_of(MAGIC)
    numbers.updated(sid, SmsUrl="http://127.0.0.1:9/in", SmsMethod="GET")
    assert numbers.updated(sid, FriendlyName="x")["sms_method"] == "GET"


@pytest.mark.parametrize(
    "form",
    [
        {"FriendlyName": "x" * 65},
        {"SmsApplicationSid": "PN" + "0" * 32},
    ],
)
def test_update_with_an_invalid_value_gets_20001_and_changes_nothing(
    numbers: Numbers, sandbox: Sandbox, form: dict[str, str]
) -> None:
    before = sandbox.phone_number(MAGIC)
    response = numbers.update(numbers.sid_of(MAGIC), **form)
    assert (response.status_code, response.json()["code"]) == (400, 20001)
    assert_valid_error(response.json(), 400)
    assert sandbox.phone_number(MAGIC) == before


def test_update_of_an_unknown_number_gets_20404(numbers: Numbers) -> None:
    response = numbers.update("PN" + "0" * 32, SmsUrl="http://127.0.0.1:9/in")
    assert (response.status_code, response.json()["code"]) == (404, 20404)


def test_phone_number_of_a_number_not_the_sandboxes_is_a_key_error(sandbox: Sandbox) -> None:
    with pytest.raises(KeyError):
        sandbox.phone_number("+15550000000")


def test_reset_keeps_the_numbers_configuration(numbers: Numbers, sandbox: Sandbox) -> None:
    numbers.updated(numbers.sid_of(MAGIC), SmsUrl="http://127.0.0.1:9/in")
    sandbox.reset()
    assert sandbox.phone_number(MAGIC)["sms_url"] == "http://127.0.0.1:9/in"


def test_number_sids_are_stable_for_an_account_and_number() -> None:
    account = "AC" + "1" * 32
    with Sandbox(account_sid=account) as first, Sandbox(account_sid=account) as second:
        assert first.phone_number(MAGIC)["sid"] == second.phone_number(MAGIC)["sid"]


urls = st.sampled_from(["http", "https"]).flatmap(
    lambda scheme: st.from_regex(r"[a-z][a-z0-9]{0,20}(\.[a-z]{2,5}){1,2}", fullmatch=True).map(
        lambda host: f"{scheme}://{host}/sms"
    )
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(url=urls, method=st.sampled_from(["GET", "POST", "get", "post"]))
def test_any_web_url_and_method_is_stored_and_answered_per_spec(
    numbers: Numbers, sandbox: Sandbox, url: str, method: str
) -> None:
    updated = numbers.updated(numbers.sid_of(MAGIC), SmsUrl=url, SmsMethod=method)
    assert (updated["sms_url"], updated["sms_method"]) == (url, method.upper())
    assert sandbox.phone_number(MAGIC)["sms_url"] == url
