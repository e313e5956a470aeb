"""The fast check never calls valid what jsonschema calls invalid, for every schema we derive."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from twilio_component.descriptor import load_descriptor
from twilio_component.fastcheck import compile_check
from twilio_component.resources import read_text
from twilio_component.schemas import descriptor_schemas
from twilio_component.validation import format_checker

SCHEMAS = descriptor_schemas(load_descriptor(read_text("component.yaml")))
CASES: list[tuple[str, dict[str, Any]]] = [
    *((f"connection {name}", schema) for name, schema in SCHEMAS["connection"].items()),
    *((f"{name} parameters", s["parameters"]) for name, s in SCHEMAS["actions"].items()),
    *((f"{name} output", s["output"]) for name, s in SCHEMAS["actions"].items()),
]
FORMATS = format_checker().checkers


def fast(schema: dict[str, Any]) -> Any:
    check = compile_check(schema, {name: func for name, (func, _) in FORMATS.items()})
    assert check is not None, "every schema derived from the descriptor has a fast check"
    return check


def properties_of(schema: dict[str, Any]) -> list[str]:
    return list(schema.get("properties", {}))


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 40_000)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
)
phoneish = st.from_regex(r"\A(whatsapp:)?\+?[0-9]{1,16}\Z") | st.sampled_from(
    [
        "+15558675310",
        "+15005550006",
        "whatsapp:+15552229999",
        "12345",
        "ACME",
        "AC" + "a" * 32,
        "SK" + "0" * 32,
    ]
)
values = st.recursive(
    scalars | phoneish,
    lambda inner: (
        st.lists(inner, max_size=12) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=14,
)


def whole_floats(value: Any) -> bool:
    """Whether ``value`` holds a float like 1.0, which JSON Schema counts as an integer."""
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(whole_floats(v) for v in value.values())
    if isinstance(value, list):
        return any(whole_floats(v) for v in value)
    return False


def assert_fast_check_is_sound(schema: dict[str, Any], instance: Any) -> None:
    """The fast check says yes only to valid instances, and to all of them but 1.0 integers."""
    valid = Draft202012Validator(schema, format_checker=format_checker()).is_valid(instance)
    said = fast(schema)(instance)
    assert valid or not said, "the fast check called an invalid instance valid"
    if not whole_floats(instance):
        assert said == valid


@pytest.mark.parametrize(("name", "schema"), CASES, ids=[c[0] for c in CASES])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_fast_check_agrees_with_jsonschema(
    name: str, schema: dict[str, Any], data: st.DataObject
) -> None:
    keys = [*properties_of(schema), "Unknown"]
    instance = data.draw(st.dictionaries(st.sampled_from(keys), values, max_size=len(keys)))
    assert_fast_check_is_sound(schema, instance)


HEX = "0123456789abcdef" * 2
#: A valid instance of each input schema, to change a little: near-valid instances are where
#: a wrong "yes" would hide.
VALID: dict[str, dict[str, Any]] = {
    "connection basic_auth": {"username": "AC" + HEX, "password": "token"},
    "connection api_key": {"accountSid": "AC" + HEX, "apiKeySid": "SK" + HEX, "apiKeySecret": "s"},
    "sendSMS parameters": {"To": "+15558675310", "From": "+15005550006", "Body": "Hi"},
    "sendMessage parameters": {
        "To": "whatsapp:+15558675310",
        "From": "whatsapp:+15005550006",
        "MessagingServiceSid": "MG" + HEX,
        "MediaUrl": ["https://example.com/a.png"],
        "ContentSid": "HX" + HEX,
        "ContentVariables": {"1": "Jane"},
        "ValidityPeriod": 600,
        "SendAt": "2030-01-31T12:00:00Z",
        "SmartEncoded": True,
        "RiskCheck": "enable",
        "Attempt": 1,
    },
}
NEAR_CASES = [(name, schema) for name, schema in CASES if name in VALID]


def test_every_input_schema_has_a_valid_instance_to_change() -> None:
    assert sorted(VALID) == sorted(name for name, _ in NEAR_CASES)
    for name, schema in NEAR_CASES:
        assert fast(schema)(VALID[name]), name


@pytest.mark.parametrize(("name", "schema"), NEAR_CASES, ids=[c[0] for c in NEAR_CASES])
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_fast_check_is_sound_next_to_valid_instances(
    name: str, schema: dict[str, Any], data: st.DataObject
) -> None:
    keys = st.sampled_from([*properties_of(schema), "Unknown"])
    changes = data.draw(st.dictionaries(keys, values | st.none(), max_size=2))
    instance = {
        k: v for k, v in {**VALID[name], **changes}.items() if k not in changes or v is not None
    }
    assert_fast_check_is_sound(schema, instance)


def test_a_schema_with_an_unknown_keyword_gets_no_fast_check() -> None:
    assert compile_check({"type": "string", "contentEncoding": "base64"}) is None


def test_valid_example_step_passes_the_fast_check() -> None:
    check = fast(SCHEMAS["actions"]["sendSMS"]["parameters"])
    assert check({"To": "+15558675310", "From": "+15005550006", "Body": "Hi"})
    assert not check({"To": "12345", "From": "+15005550006", "Body": "Hi"})


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["from", "date_sent", "price_unit", "error_code", "num_media", "subresource_uris"]
        ),
        values,
    )
)
def test_fast_check_agrees_on_mapped_outputs(resource: dict[str, Any]) -> None:
    from twilio_component.twilio.output import output_plan, to_output

    action = load_descriptor(read_text("component.yaml")).action("sendSMS")
    schema = SCHEMAS["actions"]["sendSMS"]["output"]
    output = to_output(resource, output_plan(action.output))
    assert_fast_check_is_sound(schema, output)
