"""Specification of the sandbox's create-message checks: Twilio's rules, codes and test numbers."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openapi import spec_path

from twilio_component.sandbox.checks import MessageRequest, Refusal, check_create
from twilio_component.sandbox.message_spec import (
    CONDITIONAL,
    ENUMS,
    MAGIC_SENDER,
    PARAMETER_TYPES,
    SID_PATTERNS,
)

SPEC_PATH = spec_path()
NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
OWN = frozenset({MAGIC_SENDER, "+15550001111", "MyBrand", "12345"})
TO = "+15551234567"
SERVICE = "MG" + "a" * 32
CONTENT = "HX" + "b" * 32
APPLICATION = "AP" + "c" * 32
MAGIC_TO = {"+15005550001", "+15005550002", "+15005550003", "+15005550004", "+15005550009"}
BOOLEANS = sorted(name for name, kind in PARAMETER_TYPES.items() if kind == "boolean")

Value = str | list[str] | None


def form(**params: Value) -> dict[str, list[str]]:
    """A minimal valid create form, changed by params (None removes a key)."""
    fields: dict[str, Value] = {"To": TO, "From": MAGIC_SENDER, "Body": "hi"}
    fields.update(params)
    return {
        key: [value] if isinstance(value, str) else value
        for key, value in fields.items()
        if value is not None
    }


def check(fields: Mapping[str, Sequence[str]]) -> MessageRequest:
    return check_create(fields, own_numbers=OWN, now=NOW)


def refusal(fields: Mapping[str, Sequence[str]]) -> Refusal:
    with pytest.raises(Refusal) as caught:
        check(fields)
    return caught.value


def outcome(fields: Mapping[str, Sequence[str]]) -> MessageRequest | Refusal:
    """The checked request, or the refusal; any other exception propagates."""
    try:
        return check(fields)
    except Refusal as failure:
        return failure


def code_of(**params: Value) -> int:
    return refusal(form(**params)).code


def send_at(seconds: float) -> str:
    return (NOW + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@cache
def spec_request() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        pytest.skip(f"spec not found at {SPEC_PATH}")
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    operation = spec["paths"]["/2010-04-01/Accounts/{AccountSid}/Messages.json"]["post"]
    schema = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    return {"spec": spec, "operation": operation, "schema": schema}


# --- the constants mirror the spec --------------------------------------------------------------


def test_parameter_types_match_the_spec() -> None:
    properties = spec_request()["schema"]["properties"]
    expected = {}
    for name, prop in properties.items():
        if "$ref" in prop:
            expected[name] = "enum"
        elif prop.get("format") in ("phone-number", "uri", "date-time"):
            expected[name] = prop["format"]
        else:
            expected[name] = prop["type"]
    assert dict(PARAMETER_TYPES) == expected


def test_enums_match_the_spec() -> None:
    request = spec_request()
    schemas = request["spec"]["components"]["schemas"]
    expected = {
        name: frozenset(schemas[prop["$ref"].rsplit("/", 1)[1]]["enum"])
        for name, prop in request["schema"]["properties"].items()
        if "$ref" in prop
    }
    assert dict(ENUMS) == expected


def test_sid_patterns_match_the_spec() -> None:
    properties = spec_request()["schema"]["properties"]
    expected = {name: prop["pattern"] for name, prop in properties.items() if "pattern" in prop}
    assert dict(SID_PATTERNS) == expected
    for name in expected:
        assert properties[name]["minLength"] == properties[name]["maxLength"] == 34


def test_conditional_groups_match_the_spec() -> None:
    def snake(name: str) -> str:
        return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()

    expected = spec_request()["operation"]["x-twilio"]["conditional"]
    assert [[snake(name) for name in group] for group in CONDITIONAL] == expected


def test_to_is_the_only_parameter_the_spec_requires() -> None:
    assert spec_request()["schema"]["required"] == ["To"]
    assert code_of(To=None) == 21604


# --- refusals, one per rule -------------------------------------------------------------------


def test_refusal_body_has_twilio_error_shape() -> None:
    body = refusal(form(To=None)).body()
    assert body == {
        "code": 21604,
        "message": body["message"],
        "more_info": "https://www.twilio.com/docs/errors/21604",
        "status": 400,
    }
    assert body["message"]


def test_missing_to_is_21604() -> None:
    assert code_of(To=None) == 21604


def test_empty_to_counts_as_missing() -> None:
    assert code_of(To="") == 21604


@pytest.mark.parametrize(
    "to",
    [
        "12345",
        "+0123456",
        "+1234567890123456",
        "+1 555 123",
        "whatsapp:12345",
        "+1\u0662\u0663\u0664\u0665",
    ],
)
def test_malformed_to_is_21211(to: str) -> None:
    failure = refusal(form(To=to))
    assert (failure.code, failure.status) == (21211, 400)
    assert to in failure.message


def test_to_is_checked_before_from() -> None:
    assert code_of(To="nope", From="not ours!") == 21211


def test_missing_from_without_service_is_21603() -> None:
    assert code_of(From=None) == 21603


@pytest.mark.parametrize("sender", ["+0123", "abc!def", "1234", "TwelveChars1", "123456789"])
def test_malformed_from_is_21212(sender: str) -> None:
    assert code_of(From=sender) == 21212


def test_well_formed_from_not_ours_is_21606() -> None:
    assert code_of(From="+15557654321") == 21606


def test_to_equal_to_from_is_21266() -> None:
    assert code_of(To=MAGIC_SENDER, From=MAGIC_SENDER) == 21266


def test_missing_body_media_and_content_is_21602() -> None:
    assert code_of(Body=None) == 21602


def test_body_over_1600_characters_is_21617() -> None:
    assert code_of(Body="a" * 1601) == 21617


def test_body_length_counts_code_points() -> None:
    assert check(form(Body="😀" * 1600)).body == "😀" * 1600


def test_more_than_ten_media_urls_is_21623() -> None:
    assert code_of(MediaUrl=[f"https://example.com/{i}.png" for i in range(11)]) == 21623


@pytest.mark.parametrize(
    "url", ["ftp://example.com/a.png", "example.com/a.png", "https://", "http://h:99999/a", "x y"]
)
def test_media_url_that_is_not_http_is_21620(url: str) -> None:
    assert code_of(MediaUrl=[url]) == 21620


def test_malformed_messaging_service_sid_is_21705() -> None:
    assert code_of(MessagingServiceSid="MG123") == 21705


def test_malformed_content_sid_is_21655() -> None:
    assert code_of(ContentSid="HX" + "z" * 32) == 21655


def test_malformed_application_sid_is_20001() -> None:
    assert code_of(ApplicationSid="AP" + "a" * 31) == 20001


def test_content_variables_without_content_sid_is_21654() -> None:
    assert code_of(ContentVariables='{"1": "x"}') == 21654


@pytest.mark.parametrize("variables", ["not json", "[1, 2]", '"text"', "{"])
def test_content_variables_not_a_json_object_is_21656(variables: str) -> None:
    assert code_of(ContentSid=CONTENT, ContentVariables=variables) == 21656


@pytest.mark.parametrize("period", ["0", "36001", "-5", "1.5", "ten"])
def test_validity_period_outside_1_to_36000_is_21624(period: str) -> None:
    assert code_of(ValidityPeriod=period) == 21624


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/cb",
        "example.com/cb",
        "https://bad_host.example.com/cb",
        "http:///cb",
        "https://ex ample.com/cb",
        "https://example.com/" + "a" * 4000,
    ],
)
def test_status_callback_that_is_not_an_http_url_is_21609(url: str) -> None:
    assert code_of(StatusCallback=url) == 21609


@pytest.mark.parametrize("name", BOOLEANS)
def test_boolean_other_than_true_or_false_is_20001(name: str) -> None:
    assert code_of(MessagingServiceSid=SERVICE, **{name: "yes"}) == 20001


def test_shorten_urls_without_service_is_20001() -> None:
    assert code_of(ShortenUrls="true") == 20001


@pytest.mark.parametrize("name", sorted(set(ENUMS) - {"ScheduleType"}))
def test_enum_value_outside_the_spec_is_20001(name: str) -> None:
    assert code_of(**{name: "bogus"}) == 20001


def test_schedule_type_outside_the_spec_is_35126() -> None:
    assert code_of(MessagingServiceSid=SERVICE, ScheduleType="later", SendAt=send_at(3600)) == 35126


def test_max_price_that_is_not_a_number_is_20001() -> None:
    assert code_of(MaxPrice="cheap") == 20001


def test_attempt_that_is_not_an_integer_is_20001() -> None:
    assert code_of(Attempt="1.5") == 20001


def test_fallback_from_malformed_is_21212() -> None:
    assert code_of(MessagingServiceSid=SERVICE, FallbackFrom="not valid!") == 21212


def test_fallback_from_not_ours_is_21606() -> None:
    assert code_of(MessagingServiceSid=SERVICE, FallbackFrom="+15557654321") == 21606


def test_fallback_from_without_service_is_20001() -> None:
    assert code_of(FallbackFrom="+15550001111") == 20001


# --- scheduling ------------------------------------------------------------------------------


def test_schedule_type_fixed_without_send_at_is_35111() -> None:
    assert code_of(MessagingServiceSid=SERVICE, ScheduleType="fixed") == 35111


def test_send_at_without_service_is_35118() -> None:
    assert code_of(ScheduleType="fixed", SendAt=send_at(3600)) == 35118


@pytest.mark.parametrize("when", ["tomorrow", "2030-01-02", "2030-13-01T00:00:00Z", "0"])
def test_send_at_not_an_iso_date_time_is_35114(when: str) -> None:
    assert code_of(MessagingServiceSid=SERVICE, ScheduleType="fixed", SendAt=when) == 35114


@pytest.mark.parametrize("seconds", [300, 60, -3600])
def test_send_at_300_seconds_ahead_or_less_is_35114(seconds: int) -> None:
    fields = form(MessagingServiceSid=SERVICE, ScheduleType="fixed", SendAt=send_at(seconds))
    assert refusal(fields).code == 35114


def test_send_at_more_than_35_days_ahead_is_35115() -> None:
    fields = form(MessagingServiceSid=SERVICE, ScheduleType="fixed", SendAt=send_at(3_024_001))
    assert refusal(fields).code == 35115


@pytest.mark.parametrize("seconds", [301, 3_024_000])
def test_send_at_at_the_window_edges_is_scheduled(seconds: int) -> None:
    fields = form(MessagingServiceSid=SERVICE, ScheduleType="fixed", SendAt=send_at(seconds))
    request = check(fields)
    assert request.scheduled
    assert request.send_at == NOW + timedelta(seconds=seconds)


def test_send_at_with_an_offset_is_normalised_to_utc() -> None:
    fields = form(
        MessagingServiceSid=SERVICE, ScheduleType="fixed", SendAt="2030-01-01T15:00:00+02:00"
    )
    assert check(fields).send_at == datetime(2030, 1, 1, 13, 0, tzinfo=UTC)


# --- Twilio's test-mode numbers ----------------------------------------------------------------


def test_magic_sender_passes() -> None:
    assert check(form(From="+15005550006")).from_ == "+15005550006"


def test_magic_sender_passes_even_when_not_listed_as_own() -> None:
    request = check_create(form(), own_numbers=(), now=NOW)
    assert request.from_ == MAGIC_SENDER


@pytest.mark.parametrize(
    ("sender", "code"),
    [("+15005550001", 21212), ("+15005550007", 21606), ("+15005550008", 21611)],
)
def test_magic_from_numbers_refuse_with_their_code(sender: str, code: int) -> None:
    failure = refusal(form(From=sender))
    assert (failure.code, failure.status) == (code, 400)


@pytest.mark.parametrize(
    ("to", "code"),
    [
        ("+15005550001", 21211),
        ("+15005550002", 21612),
        ("+15005550003", 21408),
        ("+15005550004", 21610),
        ("+15005550009", 21614),
    ],
)
def test_magic_to_numbers_refuse_with_their_code(to: str, code: int) -> None:
    failure = refusal(form(To=to))
    assert (failure.code, failure.status) == (code, 400)


def test_sender_is_checked_before_magic_recipient() -> None:
    assert code_of(To="+15005550002", From="+15557654321") == 21606


# --- happy paths -------------------------------------------------------------------------------


def test_minimal_request_is_normalised_with_defaults() -> None:
    assert check(form()) == MessageRequest(to=TO, from_=MAGIC_SENDER, body="hi")


def test_whatsapp_to_from_a_whatsapp_sender_is_accepted() -> None:
    request = check(form(To="whatsapp:+15551234567", From="whatsapp:" + MAGIC_SENDER))
    assert (request.to, request.from_) == ("whatsapp:+15551234567", "whatsapp:" + MAGIC_SENDER)


def test_rcs_to_is_accepted() -> None:
    assert check(form(To="rcs:+1555123")).to == "rcs:+1555123"


@pytest.mark.parametrize("sender", ["12345", "MyBrand", "+15550001111"])
def test_own_short_code_alphanumeric_or_number_sender_passes(sender: str) -> None:
    assert check(form(From=sender)).from_ == sender


@pytest.mark.parametrize(
    ("to", "sender"),
    [("whatsapp:+15551234567", MAGIC_SENDER), (TO, "whatsapp:" + MAGIC_SENDER)],
)
def test_whatsapp_paired_with_a_plain_number_is_21910(to: str, sender: str) -> None:
    failure = refusal(form(To=to, From=sender))
    assert (failure.code, failure.status) == (21910, 400)
    assert failure.message.startswith("Invalid From and To pair.")


@pytest.mark.parametrize("to", ["+12", "+123456", "whatsapp:+12"])
def test_to_too_short_to_be_a_number_is_21211(to: str) -> None:
    assert code_of(To=to) == 21211


def test_from_too_short_to_be_a_number_is_21212() -> None:
    assert code_of(From="+12") == 21212


def test_shortest_numbers_in_use_pass() -> None:
    assert check(form(To="+6831234")).to == "+6831234"


@pytest.mark.parametrize(
    "to", ["sms:+15551234567", "messenger:1234567890", "telegram:+15551234567", "mms:+15551234567"]
)
def test_channel_the_messages_api_does_not_address_is_21211(to: str) -> None:
    assert code_of(To=to) == 21211


def test_service_without_from_passes() -> None:
    request = check(form(From=None, MessagingServiceSid=SERVICE))
    assert (request.from_, request.messaging_service_sid) == (None, SERVICE)


def test_service_sid_given_as_from_counts_as_the_service() -> None:
    request = check(form(From=SERVICE))
    assert (request.from_, request.messaging_service_sid) == (None, SERVICE)


def test_media_url_alone_is_enough_content() -> None:
    urls = [f"https://example.com/{i}.png" for i in range(10)]
    assert check(form(Body=None, MediaUrl=urls)).media_urls == tuple(urls)


def test_content_sid_with_variables_is_enough_content() -> None:
    request = check(form(Body=None, ContentSid=CONTENT, ContentVariables='{"1": "Ann"}'))
    assert (request.body, request.content_sid, request.content_variables) == (
        "",
        CONTENT,
        '{"1": "Ann"}',
    )


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/cb?x=1", "http://localhost/cb"])
def test_status_callback_on_loopback_passes(url: str) -> None:
    assert check(form(StatusCallback=url)).status_callback == url


def test_application_sid_passes() -> None:
    assert check(form(ApplicationSid=APPLICATION)).application_sid == APPLICATION


@pytest.mark.parametrize("period", [1, 36000])
def test_validity_period_bounds_pass(period: int) -> None:
    assert check(form(ValidityPeriod=str(period))).validity_period == period


@pytest.mark.parametrize("value", ["true", "True", "TRUE"])
def test_boolean_true_ignores_case(value: str) -> None:
    assert check(form(SmartEncoded=value)).smart_encoded is True


def test_boolean_false_is_false() -> None:
    assert check(form(SendAsMms="false")).send_as_mms is False


def test_max_price_is_a_decimal() -> None:
    assert check(form(MaxPrice="0.75")).max_price == Decimal("0.75")


def test_unknown_keys_are_ignored() -> None:
    fields = form(Tags='{"campaign": "spring"}', Whatever="x")
    assert check(fields) == check(form())


def test_first_value_of_a_repeated_key_counts() -> None:
    assert check(form(Body=["first", "second"])).body == "first"


def test_every_spec_parameter_is_accepted_together() -> None:
    fields = form(
        From="+15550001111",
        MessagingServiceSid=SERVICE,
        FallbackFrom="MyBrand",
        Body="hello",
        MediaUrl=["https://example.com/a.png", "http://127.0.0.1:9/b.gif"],
        ContentSid=CONTENT,
        ContentVariables='{"1": "x"}',
        StatusCallback="https://example.com/status",
        ApplicationSid=APPLICATION,
        MaxPrice="1.5",
        ProvideFeedback="true",
        Attempt="2",
        ValidityPeriod="600",
        ForceDelivery="true",
        ContentRetention="discard",
        AddressRetention="obfuscate",
        SmartEncoded="true",
        PersistentAction=["mailto:test@example.com", "geo:37.78,-122.39"],
        TrafficType="free",
        ShortenUrls="true",
        ScheduleType="fixed",
        SendAt=send_at(3600),
        SendAsMms="true",
        RiskCheck="disable",
    )
    assert set(fields) == set(PARAMETER_TYPES)
    assert check(fields) == MessageRequest(
        to=TO,
        from_="+15550001111",
        messaging_service_sid=SERVICE,
        body="hello",
        media_urls=("https://example.com/a.png", "http://127.0.0.1:9/b.gif"),
        content_sid=CONTENT,
        content_variables='{"1": "x"}',
        status_callback="https://example.com/status",
        application_sid=APPLICATION,
        validity_period=600,
        send_at=NOW + timedelta(seconds=3600),
        schedule_type="fixed",
        smart_encoded=True,
        shorten_urls=True,
        send_as_mms=True,
        provide_feedback=True,
        force_delivery=True,
        max_price=Decimal("1.5"),
        attempt=2,
        content_retention="discard",
        address_retention="obfuscate",
        risk_check="disable",
        traffic_type="free",
        persistent_action=("mailto:test@example.com", "geo:37.78,-122.39"),
        fallback_from="MyBrand",
    )


# --- open-ended inputs -------------------------------------------------------------------------

E164 = st.from_regex(r"\+[1-9][0-9]{6,13}", fullmatch=True).filter(
    lambda number: number not in MAGIC_TO and number != MAGIC_SENDER
)


@given(to=E164, body=st.text(min_size=1, max_size=160))
def test_any_e164_to_with_own_from_and_short_body_passes(to: str, body: str) -> None:
    request = check(form(To=to, Body=body))
    assert (request.to, request.from_, request.body) == (to, MAGIC_SENDER, body)


@given(to=st.text(max_size=40))
def test_junk_to_raises_nothing_but_refusal(to: str) -> None:
    result = outcome(form(To=to))
    assert isinstance(result, MessageRequest) or result.status == 400


@given(
    junk=st.dictionaries(
        st.sampled_from(sorted(PARAMETER_TYPES)),
        st.lists(st.text(max_size=40), max_size=3),
    )
)
def test_junk_in_any_parameter_raises_nothing_but_refusal(junk: dict[str, list[str]]) -> None:
    result = outcome({**form(MessagingServiceSid=SERVICE), **junk})
    assert isinstance(result, MessageRequest) or result.status == 400
