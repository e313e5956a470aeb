"""sendMessage's parameters as the descriptor declares them, and the checks across them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import yaml
from conftest import FROM, TO
from hypothesis import given
from hypothesis import strategies as st
from openapi import create_message_schema, load_spec

from twilio_component.component import Component
from twilio_component.descriptor import Action, load_descriptor, parse_descriptor
from twilio_component.errors import DescriptorError, Problem
from twilio_component.host import Host
from twilio_component.resources import read_text
from twilio_component.schemas import parameters_schema, rule_schema
from twilio_component.twilio.messages import send_message
from twilio_component.twilio.output import SHAPES
from twilio_component.twilio.plugin import twilio_triggers
from twilio_component.twilio.rules import twilio_rules
from twilio_component.twilio.triggers import TRIGGER_SHAPES

NOW = datetime(2030, 6, 1, 12, 0, 0, tzinfo=UTC)
SERVICE = "MG" + "1" * 32
TEMPLATE = "HX" + "2" * 32
DESCRIPTOR = load_descriptor(read_text("component.yaml"))
SEND_MESSAGE = DESCRIPTOR.action("sendMessage")
BASIC = {"To", "From", "Body", "MessagingServiceSid", "MediaUrl"}


@pytest.fixture(scope="module")
def host() -> Iterator[Host]:
    """A host whose rules see the fixed time NOW; it validates only, nothing is sent here."""
    component = Component(
        DESCRIPTOR,
        handlers={action.name: send_message for action in DESCRIPTOR.actions},
        rules=twilio_rules(clock=lambda: NOW),
        shapes=SHAPES | TRIGGER_SHAPES,
        triggers=twilio_triggers(),
    )
    with Host([component]) as loaded:
        yield loaded


def problems(host: Host, **parameters: Any) -> list[Problem]:
    return host.check_step({"type": "twilio/v1/sendMessage", "parameters": parameters})


def paths(host: Host, **parameters: Any) -> list[str]:
    return [p.path for p in problems(host, **parameters)]


def scheduled(host: Host, send_at: str) -> list[str]:
    return paths(host, To=TO, MessagingServiceSid=SERVICE, Body="Hi", SendAt=send_at)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def spec_enum(name: str) -> list[str]:
    ref = create_message_schema()["properties"][name]["$ref"].rsplit("/", 1)[1]
    values: list[str] = load_spec()["components"]["schemas"][ref]["enum"]
    return values


# -- the descriptor ---------------------------------------------------------------------------


def test_send_message_has_every_create_parameter_but_max_price_and_schedule_type() -> None:
    spec_names = set(create_message_schema()["properties"])
    assert {p.name for p in SEND_MESSAGE.properties} == spec_names - {"MaxPrice", "ScheduleType"}


def test_only_to_is_required() -> None:
    assert [p.name for p in SEND_MESSAGE.properties if p.required] == ["To"]


def test_the_basic_form_is_small_and_every_other_option_is_advanced() -> None:
    advanced = {p.name for p in SEND_MESSAGE.properties if p.raw.get("advancedOption")}
    assert advanced == {p.name for p in SEND_MESSAGE.properties} - BASIC


@pytest.mark.parametrize(
    "name", ["ContentRetention", "AddressRetention", "RiskCheck", "TrafficType"]
)
def test_choices_are_the_official_enums(name: str) -> None:
    (prop,) = [p for p in SEND_MESSAGE.properties if p.name == name]
    assert prop.raw["options"] == spec_enum(name)


@pytest.mark.parametrize("name", ["MessagingServiceSid", "ContentSid", "ApplicationSid"])
def test_sid_patterns_are_the_official_ones_anchored_at_the_very_end(name: str) -> None:
    (prop,) = [p for p in SEND_MESSAGE.properties if p.name == name]
    official = create_message_schema()["properties"][name]["pattern"]
    # Python's $ also matches before a final newline; (?!\n) holds it to the end, as in ECMA.
    assert prop.raw["pattern"] == official.replace("$", "$(?!\\n)")


def test_to_from_and_body_reuse_send_sms_patterns_and_messages() -> None:
    sms = {p.name: p.raw for p in DESCRIPTOR.action("sendSMS").properties}
    message = {p.name: p.raw for p in SEND_MESSAGE.properties}
    for name in ("To", "From", "Body"):
        for key in ("pattern", "messages", "maxLength", "minLength"):
            assert message[name].get(key) == sms[name].get(key), (name, key)
    assert SEND_MESSAGE.output == DESCRIPTOR.action("sendSMS").output


def test_send_sms_keeps_its_three_required_parameters() -> None:
    sms = DESCRIPTOR.action("sendSMS")
    assert [(p.name, p.required) for p in sms.properties] == [
        ("To", True),
        ("From", True),
        ("Body", True),
    ]
    assert [rule["rule"] for rule in sms.rules] == ["same_channel"]


def test_send_sms_refuses_a_whatsapp_sender_with_a_plain_recipient(host: Host) -> None:
    found = host.check_step(
        {
            "type": "twilio/v1/sendSMS",
            "parameters": {"To": TO, "From": "whatsapp:+15005550006", "Body": "x"},
        }
    )
    assert [(p.path, "same channel" in p.reason) for p in found] == [("From", True)]


def test_api_key_follows_basic_auth_which_is_unchanged() -> None:
    basic, api_key = DESCRIPTOR.authorizations
    raw = yaml.safe_load(read_text("component.yaml"))["connection"]["authorizations"][0]
    assert (basic.name, [p.raw for p in basic.properties]) == ("basic_auth", raw["properties"])
    assert (api_key.name, api_key.title) == ("api_key", "API Key")
    assert [(p.name, p.label, p.required, p.secret) for p in api_key.properties] == [
        ("accountSid", "Account SID", True, False),
        ("apiKeySid", "API Key SID", True, False),
        ("apiKeySecret", "API Key Secret", True, True),
    ]
    assert api_key.properties[1].raw["pattern"] == "^SK[0-9a-fA-F]{32}$(?!\\n)"


def test_every_rule_is_checked_by_the_schema_or_by_code() -> None:
    code = twilio_rules()
    for action in DESCRIPTOR.actions:
        for rule in action.rules:
            assert rule_schema(rule) or rule["rule"] in code, rule


def test_every_rule_and_refusal_message_says_what_to_do() -> None:
    advice = ("give", "use", "pick", "leave", "remove", "set", "copy", "e.g.", "such as", "from 1")
    for rule in SEND_MESSAGE.rules:
        assert any(word in rule["message"] for word in advice), rule
    for prop in SEND_MESSAGE.properties:
        for keyword, text in prop.raw.get("messages", {}).items():
            assert any(word in text for word in advice), (prop.name, keyword)


def example_action(action: Action) -> dict[str, Any]:
    return {p.name: p.raw["exampleValue"] for p in action.properties if "exampleValue" in p.raw}


def test_the_example_values_make_a_valid_step(host: Host) -> None:
    assert problems(host, **example_action(SEND_MESSAGE)) == []


# -- one of ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sender",
    [
        {"From": FROM},
        {"MessagingServiceSid": SERVICE},
        {"From": FROM, "MessagingServiceSid": SERVICE},
    ],
)
def test_a_sender_or_a_messaging_service_is_enough(host: Host, sender: dict[str, str]) -> None:
    assert problems(host, To=TO, Body="Hi", **sender) == []


@pytest.mark.parametrize(
    "content",
    [
        {"Body": "Hi"},
        {"MediaUrl": ["https://example.com/a.png"]},
        {"ContentSid": TEMPLATE},
    ],
)
def test_body_media_or_a_template_is_enough(host: Host, content: dict[str, Any]) -> None:
    assert problems(host, To=TO, From=FROM, **content) == []


def test_an_empty_media_list_is_not_content(host: Host) -> None:
    assert paths(host, To=TO, From=FROM, MediaUrl=[]) == ["MediaUrl"]


# -- content variables -------------------------------------------------------------------------


@pytest.mark.parametrize("variables", [{"1": "Jane"}, '{"1": "Jane"}', "{}"])
def test_content_variables_are_an_object_or_its_json_text(host: Host, variables: Any) -> None:
    assert problems(host, To=TO, From=FROM, ContentSid=TEMPLATE, ContentVariables=variables) == []


@pytest.mark.parametrize("variables", ["Jane", "[1, 2]", '"text"', "5", "null", 5, ["a"]])
def test_content_variables_that_are_not_an_object_are_refused(host: Host, variables: Any) -> None:
    found = problems(host, To=TO, From=FROM, ContentSid=TEMPLATE, ContentVariables=variables)
    assert [p.path for p in found] == ["ContentVariables"]
    assert '{"1": "Jane"}' in found[0].reason


@given(st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3))
def test_any_object_given_as_json_text_is_accepted(host: Host, variables: dict[str, str]) -> None:
    text = json.dumps(variables)
    assert problems(host, To=TO, From=FROM, ContentSid=TEMPLATE, ContentVariables=text) == []


def test_content_variables_need_a_content_sid(host: Host) -> None:
    found = problems(host, To=TO, From=FROM, Body="Hi", ContentVariables={"1": "Jane"})
    assert [p.path for p in found] == ["ContentSid"]
    assert "give its ContentSid" in found[0].reason


# -- shorten urls, fallback ------------------------------------------------------------------------


def test_shorten_urls_true_needs_a_messaging_service(host: Host) -> None:
    found = problems(host, To=TO, From=FROM, Body="Hi", ShortenUrls=True)
    assert [p.path for p in found] == ["MessagingServiceSid"]
    assert "set ShortenUrls to false" in found[0].reason


def test_shorten_urls_false_needs_nothing_more(host: Host) -> None:
    assert problems(host, To=TO, From=FROM, Body="Hi", ShortenUrls=False) == []


def test_shorten_urls_with_a_messaging_service_is_accepted(host: Host) -> None:
    assert problems(host, To=TO, MessagingServiceSid=SERVICE, Body="Hi", ShortenUrls=True) == []


def test_shorten_urls_must_be_a_boolean_not_the_text_true(host: Host) -> None:
    assert paths(host, To=TO, From=FROM, Body="Hi", ShortenUrls="true") == ["ShortenUrls"]


def test_fallback_from_needs_a_messaging_service(host: Host) -> None:
    assert paths(host, To=TO, From=FROM, Body="Hi", FallbackFrom=FROM) == ["MessagingServiceSid"]


# -- channels ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("to", "sender"),
    [
        (TO, FROM),
        ("whatsapp:" + TO, "whatsapp:" + FROM),
        (TO, "12345"),
        (TO, "ACME Inc"),
        ("messenger:1234567", "messenger:7654321"),
    ],
)
def test_to_and_from_on_the_same_channel_are_accepted(host: Host, to: str, sender: str) -> None:
    assert problems(host, To=to, From=sender, Body="Hi") == []


@pytest.mark.parametrize(
    ("to", "sender"),
    [("whatsapp:" + TO, FROM), (TO, "whatsapp:" + FROM), ("whatsapp:" + TO, "12345")],
)
def test_whatsapp_on_one_side_only_is_refused(host: Host, to: str, sender: str) -> None:
    found = problems(host, To=to, From=sender, Body="Hi")
    assert [p.path for p in found] == ["From"]
    assert "both whatsapp: addresses" in found[0].reason


def test_a_whatsapp_recipient_through_a_messaging_service_needs_no_from(host: Host) -> None:
    assert problems(host, To="whatsapp:" + TO, MessagingServiceSid=SERVICE, Body="Hi") == []


def test_a_mistyped_from_is_reported_once_by_its_type(host: Host) -> None:
    found = problems(host, To="whatsapp:" + TO, From=15005550006, Body="Hi")
    assert [(p.path, p.reason) for p in found] == [("From", "must be a string, not integer")]


# -- the send window (clock fixed at NOW) ---------------------------------------------------------


def test_send_at_exactly_300_seconds_ahead_is_too_early(host: Host) -> None:
    assert scheduled(host, stamp(NOW + timedelta(seconds=300))) == ["SendAt"]


def test_send_at_301_seconds_ahead_is_accepted(host: Host) -> None:
    assert scheduled(host, stamp(NOW + timedelta(seconds=301))) == []


def test_send_at_exactly_35_days_ahead_is_accepted(host: Host) -> None:
    assert scheduled(host, stamp(NOW + timedelta(days=35))) == []


def test_send_at_a_second_after_35_days_is_too_late(host: Host) -> None:
    found = problems(
        host,
        To=TO,
        MessagingServiceSid=SERVICE,
        Body="Hi",
        SendAt=stamp(NOW + timedelta(days=35, seconds=1)),
    )
    assert [p.path for p in found] == ["SendAt"]
    assert "1 more than the 3,024,000 allowed" in found[0].reason
    assert "no later than 2030-07-06T12:00:00Z" in found[0].reason


def test_send_at_with_an_offset_is_shown_as_given_and_in_utc(host: Host) -> None:
    given = (NOW + timedelta(seconds=60)).astimezone(timezone(timedelta(hours=2))).isoformat()
    (found,) = problems(host, To=TO, MessagingServiceSid=SERVICE, Body="Hi", SendAt=given)
    assert found.reason.startswith(f"{given!r} (2030-06-01T12:01:00Z) is only 60 seconds ahead")


def test_the_window_comes_from_the_rule_in_the_descriptor() -> None:
    (rule,) = [r for r in SEND_MESSAGE.rules if r["rule"] == "send_window"]
    assert (rule["aheadMoreThan"], rule["aheadAtMost"]) == (300, 35 * 86_400)
    check = twilio_rules(clock=lambda: NOW)["send_window"]
    narrow = {**rule, "aheadMoreThan": 10, "aheadAtMost": 20}
    assert check({"SendAt": stamp(NOW + timedelta(seconds=15))}, narrow) == []
    assert [p.path for p in check({"SendAt": stamp(NOW + timedelta(seconds=25))}, narrow)] == [
        "SendAt"
    ]


def test_send_at_in_the_past_says_so_and_gives_the_window(host: Host) -> None:
    (found,) = problems(
        host, To=TO, MessagingServiceSid=SERVICE, Body="Hi", SendAt="2030-06-01T11:00:00Z"
    )
    assert found.reason.startswith("'2030-06-01T11:00:00Z' is not in the future;")
    assert "later than 2030-06-01T12:05:00Z" in found.reason


def test_send_at_is_compared_in_utc_whatever_its_offset(host: Host) -> None:
    plus_two = timezone(timedelta(hours=2))
    assert scheduled(host, (NOW + timedelta(minutes=10)).astimezone(plus_two).isoformat()) == []
    assert scheduled(host, (NOW + timedelta(minutes=4)).astimezone(plus_two).isoformat()) == [
        "SendAt"
    ]


def test_send_at_without_a_zone_is_refused_with_an_example(host: Host) -> None:
    (found,) = problems(
        host, To=TO, MessagingServiceSid=SERVICE, Body="Hi", SendAt="2030-06-02T12:00:00"
    )
    assert found.path == "SendAt"
    assert "2030-01-31T12:00:00Z" in found.reason


@given(st.integers(min_value=-86_400, max_value=40 * 86_400))
def test_send_at_is_accepted_only_inside_the_window(host: Host, seconds: int) -> None:
    found = scheduled(host, stamp(NOW + timedelta(seconds=seconds)))
    assert (found == []) == (300 < seconds <= 3_024_000)


def test_send_at_problems_come_with_the_missing_messaging_service(host: Host) -> None:
    found = paths(host, To=TO, From=FROM, Body="Hi", SendAt=stamp(NOW + timedelta(seconds=10)))
    assert found == ["MessagingServiceSid", "SendAt"]


# -- other checks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MessagingServiceSid", "MG123"),
        ("ContentSid", "HX" + "g" * 32),
        ("ApplicationSid", "AC" + "0" * 32),
        ("StatusCallback", "https://my_host.example.com/status"),
        ("StatusCallback", "mailto:me@example.com"),
        ("MediaUrl", ["https://example.com/a.png", "not a url"]),
        ("ValidityPeriod", 36001),
        ("ValidityPeriod", "600"),
        ("ContentRetention", "keep"),
        ("PersistentAction", [""]),
        ("FallbackFrom", "whatsapp:" + FROM),
        ("Attempt", 1.5),
    ],
)
def test_malformed_values_are_refused_by_name(host: Host, name: str, value: Any) -> None:
    parameters = {"To": TO, "MessagingServiceSid": SERVICE, "Body": "Hi", name: value}
    found = problems(host, **parameters)
    assert found, parameters
    assert all(p.path.split("[")[0] == name for p in found), found


def test_a_mistyped_parameter_name_gets_a_suggestion(host: Host) -> None:
    (found,) = problems(host, To=TO, From=FROM, Body="Hi", MediaURL=["https://e.com/a.png"])
    assert found.path == "MediaURL"
    assert "did you mean MediaUrl?" in found.reason


def test_the_parameter_schema_says_the_rules_json_schema_can_say() -> None:
    schema = parameters_schema(SEND_MESSAGE)
    assert {"anyOf": [{"required": ["From"]}, {"required": ["MessagingServiceSid"]}]}.items() <= (
        schema["allOf"][0].items()
    )
    assert {"SendAt": ["MessagingServiceSid"]} in [
        part.get("dependentRequired") for part in schema["allOf"]
    ]
    assert schema["properties"]["ContentVariables"]["type"] == ["object", "string"]
    assert schema["properties"]["MediaUrl"]["maxItems"] == 10


@pytest.mark.parametrize(
    ("rule", "where"),
    [
        ({"rule": "requires", "parameters": ["ContentSid"]}, "rules[0]"),
        ({"rule": "one_of", "parameters": ["To"], "equals": True}, "rules[0]"),
        ({"rule": "some times", "parameters": ["To"]}, "rules[0].rule"),
    ],
)
def test_a_malformed_rule_is_refused_with_its_path(rule: dict[str, Any], where: str) -> None:
    raw = yaml.safe_load(read_text("component.yaml"))
    raw["actions"][1]["rules"] = [rule]
    with pytest.raises(DescriptorError) as caught:
        parse_descriptor(raw)
    assert [p.path for p in caught.value.problems] == [f"$.actions[1].{where}"]
