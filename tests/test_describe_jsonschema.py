"""The JSON Schemas (draft 2020-12) of ``describe --format jsonschema``: the host's own."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from twilio_component.describe import json_schemas, render
from twilio_component.descriptor import Descriptor, load_descriptor
from twilio_component.host import Host
from twilio_component.resources import read_text
from twilio_component.schemas import connection_schema, output_schema, parameters_schema

DRAFT = "https://json-schema.org/draft/2020-12/schema"
FILLED = {"To": "+15558675310", "From": "+15005550006", "Body": "Hello from the tests"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    rendered = render("jsonschema")
    assert isinstance(rendered, dict)
    return rendered


@pytest.fixture(scope="module")
def send_sms(document: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(document["actions"]["sendSMS"]["parameters"])


@pytest.fixture(scope="module")
def host() -> Iterator[Host]:
    with Host.load() as loaded:
        yield loaded


def test_send_sms_parameter_schema_is_a_valid_2020_12_schema(document: dict[str, Any]) -> None:
    schema = document["actions"]["sendSMS"]["parameters"]
    assert schema["$schema"] == DRAFT
    Draft202012Validator.check_schema(schema)


def test_send_sms_schema_accepts_the_example_step_filled_in(
    send_sms: Draft202012Validator,
) -> None:
    seed_step = {"To": "", "From": "", "Body": ""}
    assert list(send_sms.iter_errors({**seed_step, **FILLED})) == []


def test_send_sms_schema_rejects_a_body_of_1601_characters(
    send_sms: Draft202012Validator,
) -> None:
    assert send_sms.is_valid({**FILLED, "Body": "x" * 1600})
    errors = list(send_sms.iter_errors({**FILLED, "Body": "x" * 1601}))
    assert [(e.validator, list(e.path)) for e in errors] == [("maxLength", ["Body"])]


def test_send_sms_schema_rejects_a_missing_to(send_sms: Draft202012Validator) -> None:
    errors = list(send_sms.iter_errors({"From": FILLED["From"], "Body": FILLED["Body"]}))
    assert [(e.validator, e.message) for e in errors] == [
        ("required", "'To' is a required property")
    ]


def test_every_schema_is_valid_2020_12_with_a_title(document: dict[str, Any]) -> None:
    schemas = [*document["connection"].values()]
    for action in document["actions"].values():
        schemas += [action["parameters"], action["output"]]
    for schema in schemas:
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == DRAFT
        assert schema["title"]


def test_every_property_has_its_label_as_title_and_a_description(
    document: dict[str, Any],
) -> None:
    basic = document["connection"]["basic_auth"]["properties"]
    assert basic["username"]["title"] == "Account SID"
    assert basic["password"]["title"] == "Auth Token"
    assert basic["password"]["writeOnly"] is True
    for schema in [*document["connection"].values()] + [
        a["parameters"] for a in document["actions"].values()
    ]:
        assert schema["description"]
        for prop in schema["properties"].values():
            assert prop["title"]
            assert prop["description"]


def test_the_schemas_are_those_the_host_validates_with(document: dict[str, Any]) -> None:
    descriptor: Descriptor = load_descriptor(read_text("component.yaml"))
    for auth in descriptor.authorizations:
        assert document["connection"][auth.name] == connection_schema(auth)
    for action in descriptor.actions:
        assert document["actions"][action.name]["parameters"] == parameters_schema(action)
        assert document["actions"][action.name]["output"] == output_schema(action)
    assert json_schemas(descriptor) == document
    assert (document["name"], document["type"]) == ("twilio", "twilio/v1")


@settings(max_examples=60, deadline=None)
@given(body=st.text(min_size=0, max_size=1700))
def test_schema_and_host_agree_on_any_body(
    send_sms: Draft202012Validator, host: Host, body: str
) -> None:
    parameters = {**FILLED, "Body": body}
    step = {"type": "twilio/v1/sendSMS", "parameters": parameters}
    assert send_sms.is_valid(parameters) == (host.check_step(step) == [])


def test_cli_prints_the_schemas() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "twilio_component", "describe", "--format", "jsonschema"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)["actions"]["sendSMS"]["parameters"]
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    assert validator.is_valid(FILLED)
    assert not validator.is_valid({**FILLED, "Body": "x" * 1601})
