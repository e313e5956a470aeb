"""Specification of the OpenAPI test helper: the spec's own examples pass, broken copies fail."""

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openapi import (
    MESSAGE_PATH,
    MESSAGES_PATH,
    SPEC_ENV,
    assert_valid_create_form,
    assert_valid_error,
    assert_valid_response,
    load_spec,
    spec_path,
)

ACCOUNT = "AC" + "a" * 32
SERVICE = "MG" + "b" * 32
CONTENT = "HX" + "c" * 32


def examples(path: str, method: str, status: int) -> dict[str, Any]:
    content = load_spec()["paths"][path][method]["responses"][str(status)]["content"]
    return {name: ex["value"] for name, ex in content["application/json"]["examples"].items()}


def fetched_message() -> dict[str, Any]:
    return copy.deepcopy(examples(MESSAGE_PATH, "get", 200)["fetch"])


def test_the_spec_is_found_and_loaded_once() -> None:
    assert load_spec() is load_spec()
    assert MESSAGES_PATH in load_spec()["paths"]


def test_the_spec_location_can_be_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SPEC_ENV, "/elsewhere/spec.json")
    assert spec_path() == Path("/elsewhere/spec.json")


def test_every_create_example_in_the_spec_is_valid() -> None:
    created = examples(MESSAGES_PATH, "post", 201)
    assert len(created) >= 5
    for body in created.values():
        assert_valid_response(MESSAGES_PATH, "post", 201, body)


def test_the_fetch_example_is_valid() -> None:
    assert_valid_response(MESSAGE_PATH, "get", 200, fetched_message())


def test_every_list_example_is_valid() -> None:
    for body in examples(MESSAGES_PATH, "get", 200).values():
        assert_valid_response(MESSAGES_PATH, "GET", 200, body)


def test_nullable_fields_accept_null() -> None:
    message = fetched_message()
    for field in ("from", "price", "price_unit", "date_sent", "error_code", "body"):
        message[field] = None
    assert_valid_response(MESSAGE_PATH, "get", 200, message)


Breakage = Callable[[dict[str, Any]], None]
BREAKAGES: dict[str, Breakage] = {
    "status outside the enum": lambda m: m.update(status="lost"),
    "direction outside the enum": lambda m: m.update(direction="sideways"),
    "num_segments as a number": lambda m: m.update(num_segments=1),
    "error_code as a string": lambda m: m.update(error_code="30007"),
    "date in ISO 8601": lambda m: m.update(date_created="2019-05-24T17:18:27Z"),
    "date not in GMT": lambda m: m.update(date_sent="Fri, 24 May 2019 19:18:28 +0200"),
    "sid of the wrong kind": lambda m: m.update(sid="CA" + "0" * 32),
    "account sid too short": lambda m: m.update(account_sid="AC123"),
    "lower-case currency": lambda m: m.update(price_unit="usd"),
    "subresource_uris as a list": lambda m: m.update(subresource_uris=[]),
}


@pytest.mark.parametrize("breakage", BREAKAGES.values(), ids=BREAKAGES.keys())
def test_a_broken_message_is_rejected(breakage: Breakage) -> None:
    message = fetched_message()
    breakage(message)
    with pytest.raises(AssertionError):
        assert_valid_response(MESSAGE_PATH, "get", 200, message)


def test_every_problem_is_listed_with_its_path() -> None:
    message = fetched_message()
    message.update(status="lost", num_media=0)
    with pytest.raises(AssertionError, match="2 problem") as raised:
        assert_valid_response(MESSAGE_PATH, "get", 200, message)
    assert "$.status" in str(raised.value)
    assert "$.num_media" in str(raised.value)


def test_a_broken_message_inside_a_list_is_rejected() -> None:
    page = copy.deepcopy(examples(MESSAGES_PATH, "get", 200)["readFullPage1"])
    page["messages"][1]["status"] = "lost"
    with pytest.raises(AssertionError, match=r"\$\.messages\[1\]\.status"):
        assert_valid_response(MESSAGES_PATH, "get", 200, page)


def test_an_undocumented_status_is_rejected() -> None:
    with pytest.raises(AssertionError, match="not documented"):
        assert_valid_response(MESSAGES_PATH, "post", 200, fetched_message())


def test_an_unknown_operation_is_rejected() -> None:
    with pytest.raises(AssertionError, match="not an operation"):
        assert_valid_response(MESSAGES_PATH, "put", 200, {})


def test_a_body_where_none_is_documented_is_rejected() -> None:
    assert_valid_response(MESSAGE_PATH, "delete", 204, None)
    with pytest.raises(AssertionError):
        assert_valid_response(MESSAGE_PATH, "delete", 204, {"sid": "x"})


GOOD_FORMS: dict[str, dict[str, list[str]]] = {
    "sms from a number": {"To": ["+15558675310"], "From": ["+15005550006"], "Body": ["Hi"]},
    "mms through a service": {
        "To": ["whatsapp:+15558675310"],
        "MessagingServiceSid": [SERVICE],
        "MediaUrl": ["https://example.com/a.png", "https://example.com/b.png"],
    },
    "scheduled template": {
        "To": ["+15558675310"],
        "MessagingServiceSid": [SERVICE],
        "ContentSid": [CONTENT],
        "ContentVariables": ['{"1":"x"}'],
        "ScheduleType": ["fixed"],
        "SendAt": ["2030-01-01T10:00:00Z"],
    },
    "typed options": {
        "To": ["+15558675310"],
        "From": ["+15005550006"],
        "Body": ["Hi"],
        "SmartEncoded": ["true"],
        "ShortenUrls": ["false"],
        "ValidityPeriod": ["600"],
        "MaxPrice": ["0.75"],
        "StatusCallback": ["https://example.com/status"],
        "RiskCheck": ["disable"],
    },
}


@pytest.mark.parametrize("form", GOOD_FORMS.values(), ids=GOOD_FORMS.keys())
def test_a_valid_create_form_passes(form: dict[str, list[str]]) -> None:
    assert_valid_create_form(form)


BASE = {"To": ["+15558675310"], "From": ["+15005550006"], "Body": ["Hi"]}
BAD_FORMS: dict[str, tuple[dict[str, list[str]], str]] = {
    "unknown key": ({**BASE, "Bodyy": ["x"]}, r"\$\.Bodyy"),
    "snake_case key": ({**BASE, "status_callback": ["https://x"]}, r"\$\.status_callback"),
    "no To": ({"From": ["+15005550006"], "Body": ["Hi"]}, "'To' is a required"),
    "no sender": ({"To": ["+15558675310"], "Body": ["Hi"]}, "From, MessagingServiceSid"),
    "no content": ({"To": ["+15558675310"], "From": ["+1"]}, "Body, MediaUrl, ContentSid"),
    "Python boolean": ({**BASE, "SmartEncoded": ["True"]}, r"\$\.SmartEncoded"),
    "numeric boolean": ({**BASE, "ForceDelivery": ["1"]}, r"\$\.ForceDelivery"),
    "fractional integer": ({**BASE, "ValidityPeriod": ["60.0"]}, r"\$\.ValidityPeriod"),
    "empty value": ({**BASE, "StatusCallback": [""]}, "sent empty"),
    "repeated scalar": ({**BASE, "Body": ["a", "b"]}, "sent 2 times"),
    "enum outside": ({**BASE, "ScheduleType": ["later"]}, r"\$\.ScheduleType"),
    "date without zone": ({**BASE, "SendAt": ["2030-01-01T10:00:00"]}, r"\$\.SendAt"),
    "date only": ({**BASE, "SendAt": ["2030-01-01"]}, r"\$\.SendAt"),
    "bad service sid": ({**BASE, "MessagingServiceSid": ["MG123"]}, "MessagingServiceSid"),
}


@pytest.mark.parametrize(("form", "complaint"), BAD_FORMS.values(), ids=BAD_FORMS.keys())
def test_an_invalid_create_form_fails_naming_the_problem(
    form: dict[str, list[str]], complaint: str
) -> None:
    with pytest.raises(AssertionError, match=complaint):
        assert_valid_create_form(form)


def test_a_single_string_value_counts_as_one_value() -> None:
    assert_valid_create_form({"To": "+15558675310", "From": "+15005550006", "Body": "Hi"})


def twilio_error(code: int = 21211, status: int = 400) -> dict[str, Any]:
    return {
        "code": code,
        "message": "The 'To' number is not a valid phone number.",
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def test_a_twilio_error_body_passes() -> None:
    assert_valid_error(twilio_error(), 400)
    assert_valid_error({**twilio_error(20404, 404), "detail": "No such message"}, 404)


BAD_ERRORS: dict[str, tuple[Any, int]] = {
    "status differs from HTTP": (twilio_error(), 404),
    "code as a string": ({**twilio_error(), "code": "21211"}, 400),
    "missing message": ({k: v for k, v in twilio_error().items() if k != "message"}, 400),
    "more_info for another code": (
        {**twilio_error(), "more_info": "https://www.twilio.com/docs/errors/21212"},
        400,
    ),
    "unexpected key": ({**twilio_error(), "error": "bad"}, 400),
    "not an object": (["21211"], 400),
}


@pytest.mark.parametrize(("body", "status"), BAD_ERRORS.values(), ids=BAD_ERRORS.keys())
def test_a_malformed_error_body_fails(body: Any, status: int) -> None:
    with pytest.raises(AssertionError):
        assert_valid_error(body, status)
