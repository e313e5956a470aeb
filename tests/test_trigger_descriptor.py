"""Triggers are declared in the descriptor beside actions, and every view derives from them."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
import yaml

from twilio_component.describe import render
from twilio_component.descriptor import parse_descriptor
from twilio_component.errors import DescriptorError
from twilio_component.resources import read_text
from twilio_component.schemas import output_schema


def raw() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(read_text("component.yaml")))


def test_the_palette_lists_every_trigger_with_its_webhook_type() -> None:
    entry = render("palette")
    assert isinstance(entry, dict)
    kinds = {t["name"]: t["type"] for t in entry["triggers"]}
    assert kinds == {
        "newIncomingSMS": "DYNAMIC_WEBHOOK",
        "messageStatus": "STATIC_WEBHOOK",
        "newIncomingCall": "DYNAMIC_WEBHOOK",
        "callStatus": "STATIC_WEBHOOK",
    }


def test_a_palette_trigger_has_its_form_and_output_like_an_action() -> None:
    entry = render("palette")
    assert isinstance(entry, dict)
    (incoming,) = [t for t in entry["triggers"] if t["name"] == "newIncomingSMS"]
    assert [p["name"] for p in incoming["properties"]] == ["PhoneNumber"]
    assert incoming["properties"][0]["required"] is True
    schema = incoming["outputDefinition"]["outputSchema"]
    assert {"messageSid", "from", "to", "body", "media", "parameters"} <= {
        p["name"] for p in schema["properties"]
    }
    assert all("controlType" in p for p in schema["properties"])


def test_trigger_events_are_open_objects() -> None:
    descriptor = parse_descriptor(raw())
    schema = output_schema(descriptor.trigger("newIncomingSMS"))
    event = {p["name"]: None for p in descriptor.trigger("newIncomingSMS").output["properties"]}
    jsonschema.validate({**event, "someNewTwilioField": "x"}, schema)


def test_the_json_schemas_include_each_triggers_parameters_and_event() -> None:
    schemas = render("jsonschema")
    assert isinstance(schemas, dict)
    assert set(schemas["triggers"]) == {
        "newIncomingSMS",
        "messageStatus",
        "newIncomingCall",
        "callStatus",
    }
    assert schemas["triggers"]["newIncomingSMS"]["parameters"]["required"] == ["PhoneNumber"]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d["triggers"][0].update(type="POLLING"), "$.triggers[0].type"),
        (lambda d: d["triggers"][1].pop("output"), "$.triggers[1]"),
        (lambda d: d["triggers"][1].update(name="sendSMS"), "$.triggers"),
        (lambda d: d["triggers"].append(copy.deepcopy(d["triggers"][0])), "$.triggers[4].name"),
    ],
)
def test_a_malformed_trigger_is_refused_with_its_path(change: Any, path: str) -> None:
    data = raw()
    change(data)
    with pytest.raises(DescriptorError) as caught:
        parse_descriptor(data)
    assert [p.path for p in caught.value.problems] == [path]
