"""The palette entry: the component card, forms and output shape an editor shows."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from twilio_component.describe import palette_entry, render
from twilio_component.descriptor import Descriptor, load_descriptor, parse_descriptor
from twilio_component.palette import pattern_lengths
from twilio_component.resources import read_text

SNAPSHOT = Path(__file__).resolve().parent / "snapshots" / "palette.json"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"


@pytest.fixture
def descriptor() -> Descriptor:
    return load_descriptor(read_text("component.yaml"))


def snapshot_text(entry: dict[str, Any]) -> str:
    return json.dumps(entry, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def properties_by_name(entry: dict[str, Any], action: str) -> dict[str, dict[str, Any]]:
    (found,) = [a for a in entry["actions"] if a["name"] == action]
    return {p["name"]: p for p in found["properties"]}


def keys_in(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value).union(*(keys_in(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(keys_in(v) for v in value))
    return set()


def test_palette_matches_the_snapshot(descriptor: Descriptor) -> None:
    text = snapshot_text(palette_entry(descriptor))
    if UPDATE:
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(text, encoding="utf-8")
        pytest.fail(f"UPDATE_SNAPSHOTS=1: rewrote {SNAPSHOT}; review the diff, rerun without it")
    assert SNAPSHOT.exists(), f"{SNAPSHOT} is missing: run once with UPDATE_SNAPSHOTS=1"
    assert text == SNAPSHOT.read_text(encoding="utf-8")


def test_palette_names_twilio_version_1(descriptor: Descriptor) -> None:
    entry = palette_entry(descriptor)
    assert (entry["name"], entry["version"], entry["title"]) == ("twilio", 1, "Twilio")
    assert entry["componentCategories"] == [{"label": "Communication", "name": "communication"}]


def test_palette_icon_is_the_svg_itself(descriptor: Descriptor) -> None:
    icon = palette_entry(descriptor)["icon"]
    assert icon == read_text("assets/twilio.svg")
    assert icon.lstrip().startswith("<svg")


def test_palette_connection_has_the_account_sid_and_auth_token_fields(
    descriptor: Descriptor,
) -> None:
    connection = palette_entry(descriptor)["connection"]
    basic = connection["authorizations"][0]
    fields = {p["name"]: p for p in basic["properties"]}
    assert (connection["version"], basic["name"], basic["title"]) == (1, "basic_auth", "Basic Auth")
    assert [(f["label"], f["required"]) for f in fields.values()] == [
        ("Account SID", True),
        ("Auth Token", True),
    ]
    assert (fields["username"]["secret"], fields["password"]["secret"]) == (False, True)


def test_palette_send_sms_fields_carry_controls_limits_and_examples(
    descriptor: Descriptor,
) -> None:
    fields = properties_by_name(palette_entry(descriptor), "sendSMS")
    assert list(fields) == ["To", "From", "Body"]
    assert [fields[n]["controlType"] for n in fields] == ["PHONE", "PHONE", "TEXT"]
    assert all(f["required"] and f["type"] == "STRING" for f in fields.values())
    assert all(f["advancedOption"] is False for f in fields.values())
    assert fields["Body"]["maxLength"] == 1600
    assert "maxLength" not in fields["To"]
    assert fields["To"]["exampleValue"] == "+15558675310"
    assert fields["To"]["description"].startswith("The recipient's phone number in E.164 format")


def test_palette_send_sms_has_its_output_shape_and_sample(descriptor: Descriptor) -> None:
    (action,) = [a for a in palette_entry(descriptor)["actions"] if a["name"] == "sendSMS"]
    output = action["outputDefinition"]
    assert output["outputSchema"]["type"] == "OBJECT"
    names = [p["name"] for p in output["outputSchema"]["properties"]]
    assert len(names) == 20
    assert names[:3] == ["body", "numSegments", "direction"]
    assert not keys_in(output["outputSchema"]) & {"source", "shape"}
    assert output["sampleOutput"]["from"] == {"rawNumber": ""}
    assert output["sampleOutput"]["errorCode"] == 1


def test_palette_keys_are_sorted_at_every_level(descriptor: Descriptor) -> None:
    def check(value: object) -> None:
        if isinstance(value, dict):
            assert list(value) == sorted(value)
            for item in value.values():
                check(item)
        elif isinstance(value, list):
            for item in value:
                check(item)

    check(palette_entry(descriptor))


def test_palette_follows_a_change_to_the_descriptor() -> None:
    raw = copy.deepcopy(yaml.safe_load(read_text("component.yaml")))
    raw["actions"][0]["properties"][2]["maxLength"] = 320
    raw["actions"][0]["properties"][2]["advancedOption"] = True
    fields = properties_by_name(palette_entry(parse_descriptor(raw)), "sendSMS")
    assert (fields["Body"]["maxLength"], fields["Body"]["advancedOption"]) == (320, True)


def test_palette_defaults_controls_by_type_when_the_descriptor_names_none() -> None:
    raw = copy.deepcopy(yaml.safe_load(read_text("component.yaml")))
    raw["actions"][0]["properties"] += [
        {"name": "Tries", "label": "Tries", "type": "INTEGER", "description": "How many."},
        {"name": "Flag", "label": "Flag", "type": "BOOLEAN", "description": "Whether."},
        {"name": "Urls", "label": "Urls", "type": "ARRAY", "description": "Where."},
        {
            "name": "Mode",
            "label": "Mode",
            "type": "STRING",
            "description": "Which.",
            "options": ["a", "b"],
        },
    ]
    fields = properties_by_name(palette_entry(parse_descriptor(raw)), "sendSMS")
    controls = {name: fields[name]["controlType"] for name in ("Tries", "Flag", "Urls", "Mode")}
    assert controls == {
        "Tries": "INTEGER",
        "Flag": "SELECT",
        "Urls": "ARRAY_BUILDER",
        "Mode": "SELECT",
    }
    assert fields["Tries"]["required"] is False


def test_palette_basic_auth_authorization_has_type_basic_auth(descriptor: Descriptor) -> None:
    (basic,) = [
        a
        for a in palette_entry(descriptor)["connection"]["authorizations"]
        if a["name"] == "basic_auth"
    ]
    assert basic["type"] == "BASIC_AUTH"


def test_palette_api_key_authorization_is_custom_for_its_fields_are_not_key_and_value(
    descriptor: Descriptor,
) -> None:
    (api_key,) = [
        a
        for a in palette_entry(descriptor)["connection"]["authorizations"]
        if a["name"] == "api_key"
    ]
    assert api_key["type"] == "CUSTOM"


def test_palette_authorization_carries_its_description(descriptor: Descriptor) -> None:
    basic, api_key = palette_entry(descriptor)["connection"]["authorizations"]
    assert "description" not in basic
    assert api_key["description"].startswith("An API key instead of the main Auth Token")


def test_palette_send_sms_to_has_its_pattern_under_regex(descriptor: Descriptor) -> None:
    to = properties_by_name(palette_entry(descriptor), "sendSMS")["To"]
    assert to["regex"] == descriptor.action("sendSMS").properties[0].raw["pattern"]
    assert "pattern" not in to


def test_palette_every_output_property_has_a_control_type(descriptor: Descriptor) -> None:
    def controls(prop: dict[str, Any], path: str) -> dict[str, str | None]:
        found = {path: prop.get("controlType")}
        for key in ("properties", "additionalProperties"):
            for i, child in enumerate(prop.get(key, [])):
                found.update(controls(child, f"{path}.{key}[{i}]"))
        return found

    for action in palette_entry(descriptor)["actions"]:
        found = controls(action["outputDefinition"]["outputSchema"], action["name"])
        assert [path for path, control in found.items() if not control] == []
        if action["name"] in ("sendSMS", "sendMessage"):
            assert found[f"{action['name']}.properties[19].additionalProperties[0]"] == "TEXT"
            assert found[f"{action['name']}.properties[5].properties[0]"] == "DATE_TIME"


def test_palette_subresource_uris_additional_properties_is_a_list(descriptor: Descriptor) -> None:
    (action,) = [a for a in palette_entry(descriptor)["actions"] if a["name"] == "sendSMS"]
    (uris,) = [
        p
        for p in action["outputDefinition"]["outputSchema"]["properties"]
        if p["name"] == "subresourceUris"
    ]
    assert uris["additionalProperties"] == [
        {"controlType": "TEXT", "required": False, "type": "STRING"}
    ]


def test_palette_output_response_repeats_the_output_schema_and_sample(
    descriptor: Descriptor,
) -> None:
    output = palette_entry(descriptor)["actions"][0]["outputDefinition"]
    assert output["outputResponse"] == {
        "outputSchema": output["outputSchema"],
        "sampleOutput": output["sampleOutput"],
    }


def test_palette_username_lengths_derive_from_its_anchored_pattern(
    descriptor: Descriptor,
) -> None:
    (basic,) = palette_entry(descriptor)["connection"]["authorizations"][:1]
    username = {p["name"]: p for p in basic["properties"]}["username"]
    assert (username["minLength"], username["maxLength"]) == (34, 34)


def test_palette_lengths_follow_a_changed_pattern_and_yield_to_declared_ones() -> None:
    raw = copy.deepcopy(yaml.safe_load(read_text("component.yaml")))
    raw["actions"][0]["properties"] += [
        {
            "name": "Code",
            "label": "Code",
            "type": "STRING",
            "description": "A code.",
            "pattern": "^[0-9]{4,6}$",
        },
        {
            "name": "Pin",
            "label": "Pin",
            "type": "STRING",
            "description": "A pin.",
            "pattern": "^[0-9]{4,6}$",
            "minLength": 5,
        },
    ]
    fields = properties_by_name(palette_entry(parse_descriptor(raw)), "sendSMS")
    assert (fields["Code"]["minLength"], fields["Code"]["maxLength"]) == (4, 6)
    assert (fields["Pin"]["minLength"], fields["Pin"]["maxLength"]) == (5, 6)


@pytest.mark.parametrize(
    "pattern", ["[0-9]{4}", "^[0-9]{4}", "^[0-9]+$", "^a$|b", "(?m)^ab$", "^[$"]
)
def test_palette_derives_no_lengths_from_an_unanchored_unbounded_or_unreadable_pattern(
    pattern: str,
) -> None:
    assert pattern_lengths(pattern) is None


def test_palette_options_are_label_and_value_objects(descriptor: Descriptor) -> None:
    fields = properties_by_name(palette_entry(descriptor), "sendMessage")
    assert fields["RiskCheck"]["options"] == [
        {"label": "enable", "value": "enable"},
        {"label": "disable", "value": "disable"},
    ]


def test_palette_boolean_fields_are_true_false_selects(descriptor: Descriptor) -> None:
    field = properties_by_name(palette_entry(descriptor), "sendMessage")["SmartEncoded"]
    assert (field["controlType"], [o["value"] for o in field["options"]]) == (
        "SELECT",
        [True, False],
    )


def test_palette_number_bounds_are_min_value_and_max_value(descriptor: Descriptor) -> None:
    field = properties_by_name(palette_entry(descriptor), "sendMessage")["ValidityPeriod"]
    assert (field["minValue"], field["maxValue"]) == (1, 36000)
    assert not {"minimum", "maximum"} & set(field)


def test_palette_array_items_are_a_list_of_item_definitions(descriptor: Descriptor) -> None:
    field = properties_by_name(palette_entry(descriptor), "sendMessage")["MediaUrl"]
    assert field["items"] == [
        {"controlType": "URL", "format": "uri", "required": False, "type": "STRING"}
    ]


def test_palette_maps_controls_the_platform_lacks_to_its_own() -> None:
    raw = copy.deepcopy(yaml.safe_load(read_text("component.yaml")))
    raw["actions"][0]["properties"] += [
        {
            "name": "Flag",
            "label": "Flag",
            "type": "BOOLEAN",
            "description": "Whether.",
            "controlType": "CHECKBOX",
        },
        {
            "name": "Doc",
            "label": "Doc",
            "type": "STRING",
            "description": "JSON.",
            "controlType": "JSON",
        },
    ]
    fields = properties_by_name(palette_entry(parse_descriptor(raw)), "sendSMS")
    assert (fields["Flag"]["controlType"], fields["Doc"]["controlType"]) == (
        "SELECT",
        "CODE_EDITOR",
    )
    assert fields["Doc"]["languageId"] == "json"


def test_render_palette_gives_the_twilio_entry_object() -> None:
    document = render("palette")
    assert isinstance(document, dict)
    assert document["name"] == "twilio"


def test_cli_prints_the_palette_entry_as_the_snapshot() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "twilio_component", "describe", "--format", "palette"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["name"] == "twilio"
    if not UPDATE:
        assert done.stdout == SNAPSHOT.read_text(encoding="utf-8")
