"""The descriptor: component.yaml holds the reference page as data and is checked on load."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from twilio_component.descriptor import load_descriptor, parse_descriptor
from twilio_component.errors import DescriptorError
from twilio_component.resources import read_text

RAW: dict[str, Any] = yaml.safe_load(read_text("component.yaml"))


def mutated(change: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(RAW)
    *path, last = change.split(".")
    node: Any = data
    for part in path:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is KeyError:
        del node[int(last) if last.isdigit() else last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return data


def test_shipped_descriptor_is_twilio_v1_with_send_sms() -> None:
    descriptor = load_descriptor(read_text("component.yaml"))
    assert descriptor.type == "twilio/v1"
    assert descriptor.action("sendSMS").title == "Send SMS"
    assert [p.name for p in descriptor.action("sendSMS").properties] == ["To", "From", "Body"]


def test_connection_is_basic_auth_with_a_secret_token() -> None:
    auth = load_descriptor(read_text("component.yaml")).authorizations[0]
    assert auth.name == "basic_auth"
    assert [(p.name, p.label, p.required, p.secret) for p in auth.properties] == [
        ("username", "Account SID", True, False),
        ("password", "Auth Token", True, True),
    ]


def test_body_is_limited_to_1600_characters() -> None:
    body = load_descriptor(read_text("component.yaml")).action("sendSMS").properties[2]
    assert body.raw["maxLength"] == 1600


@pytest.mark.parametrize(
    ("change", "value", "path"),
    [
        ("name", KeyError, "$"),
        ("version", "one", "$.version"),
        ("actions.0.properties.0.type", "PHONE_NUMBER", "$.actions[0].properties[0].type"),
        ("actions.0.properties.2.maxLength", -5, "$.actions[0].properties[2].maxLength"),
        (
            "connection.authorizations.0.properties.0.pattern",
            "([unclosed",
            "$.connection.authorizations[0].properties[0].pattern",
        ),
        (
            "actions.0.output.properties.1.shape",
            "tele pathy",
            "$.actions[0].output.properties[1].shape",
        ),
        ("actions.0.colour", "red", "$.actions[0]"),
    ],
)
def test_broken_descriptor_is_refused_with_the_json_path(
    change: str, value: Any, path: str
) -> None:
    with pytest.raises(DescriptorError) as caught:
        parse_descriptor(mutated(change, value))
    assert path in [p.path for p in caught.value.problems]


def test_every_problem_is_reported_at_once() -> None:
    data = mutated("version", "one")
    data["title"] = ""
    with pytest.raises(DescriptorError) as caught:
        parse_descriptor(data)
    assert {p.path for p in caught.value.problems} >= {"$.version", "$.title"}


def test_duplicate_parameter_names_are_refused() -> None:
    data = copy.deepcopy(RAW)
    data["actions"][0]["properties"].append(copy.deepcopy(data["actions"][0]["properties"][0]))
    with pytest.raises(DescriptorError, match=r"\$\.actions\[0\]\.properties\[3\]\.name"):
        parse_descriptor(data)


def test_invalid_yaml_is_refused_with_a_line_number() -> None:
    with pytest.raises(DescriptorError, match="line 2"):
        load_descriptor("name: twilio\n  version: [1\n")


def test_non_mapping_document_is_refused_without_a_traceback() -> None:
    with pytest.raises(DescriptorError):
        load_descriptor("- just\n- a list\n")
