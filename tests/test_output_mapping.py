"""The output object: Twilio's Message JSON mapped field by field as DESIGN.md says."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openapi import load_spec

from twilio_component.descriptor import load_descriptor
from twilio_component.resources import read_text
from twilio_component.schemas import output_schema
from twilio_component.twilio.output import date_time, output_plan, to_output
from twilio_component.validation import ObjectValidator

ACTION = load_descriptor(read_text("component.yaml")).action("sendSMS")
PLAN = output_plan(ACTION.output)
VALIDATOR = ObjectValidator(output_schema(ACTION), (), owner="output")


def spec_examples() -> list[dict[str, Any]]:
    paths = load_spec()["paths"]
    found: list[dict[str, Any]] = []
    for path, method, status in (
        ("/2010-04-01/Accounts/{AccountSid}/Messages.json", "post", "201"),
        ("/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json", "get", "200"),
    ):
        content = paths[path][method]["responses"][status]["content"]["application/json"]
        found.extend(example["value"] for example in content["examples"].values())
    return found


@pytest.mark.parametrize("resource", spec_examples(), ids=lambda r: r["sid"][:6] + r["status"])
def test_spec_examples_map_to_a_valid_output(resource: dict[str, Any]) -> None:
    output = to_output(resource, PLAN)
    assert VALIDATOR.problems(output) == []
    assert output["numSegments"] == resource["num_segments"]
    assert output["errorCode"] == resource["error_code"]
    assert output["price"] == resource["price"]


def test_carrier_violation_example_keeps_error_code_and_message() -> None:
    failed = next(r for r in spec_examples() if r["error_code"] == 30007)
    output = to_output(failed, PLAN)
    assert output["errorCode"] == 30007
    assert output["errorMessage"] == "Carrier violation"
    assert output["currency"] == {
        "currencyCode": "USD",
        "defaultFractionDigits": 2,
        "numericCode": 840,
    }


@pytest.mark.parametrize(
    ("code", "digits", "numeric"),
    [("USD", 2, 840), ("EUR", 2, 978), ("JPY", 0, 392), ("KWD", 3, 414)],
)
def test_price_unit_becomes_iso_4217_currency(code: str, digits: int, numeric: int) -> None:
    output = to_output({"price_unit": code}, PLAN)
    assert output["currency"] == {
        "currencyCode": code,
        "defaultFractionDigits": digits,
        "numericCode": numeric,
    }


def test_null_price_unit_gives_null_currency() -> None:
    assert to_output({"price_unit": None}, PLAN)["currency"] is None


def test_null_from_gives_null_not_an_empty_object() -> None:
    assert to_output({"from": None}, PLAN)["from"] is None


def test_every_key_is_present_even_for_an_empty_resource() -> None:
    output = to_output({}, PLAN)
    assert len(output) == 20
    assert all(value is None for value in output.values())
    assert VALIDATOR.problems(output) == []


def test_gmt_date_has_zone_z() -> None:
    assert date_time("Thu, 30 Jul 2015 20:12:31 +0000") == {
        "dateTime": "2015-07-30T20:12:31",
        "zoneId": "Z",
    }


def test_other_offsets_keep_local_time_and_offset() -> None:
    assert date_time("Thu, 30 Jul 2015 22:12:31 +0200") == {
        "dateTime": "2015-07-30T22:12:31",
        "zoneId": "+02:00",
    }
    assert date_time("Thu, 30 Jul 2015 15:42:31 -0430") == {
        "dateTime": "2015-07-30T15:42:31",
        "zoneId": "-04:30",
    }


@pytest.mark.parametrize("value", [None, "", "yesterday", "Thu, 32 Jul 2015 20:12:31 +0000", 12])
def test_unparsable_or_null_dates_give_null(value: object) -> None:
    assert date_time(value) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(st.dictionaries(st.sampled_from([source for _, source, _ in PLAN]), json_values))
def test_any_message_json_maps_to_a_valid_output(resource: dict[str, Any]) -> None:
    assert VALIDATOR.problems(to_output(resource, PLAN)) == []
