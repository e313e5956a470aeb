"""Meta-test: every action of every registered component is fully described, in every format."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from twilio_component.describe import json_schemas, palette_entry, reference_page
from twilio_component.descriptor import Action, Descriptor
from twilio_component.host import Host
from twilio_component.reference_page import pretty_json, sample_output


def registered_actions() -> list[Any]:
    """One pytest param per (component, action) that an entry-point-loaded host knows."""
    with Host.load() as host:
        return [
            pytest.param(
                component.descriptor, action, id=f"{component.descriptor.type}/{action.name}"
            )
            for component in host.components
            for action in component.descriptor.actions
        ]


ACTIONS = registered_actions()


@pytest.fixture(scope="module")
def host() -> Iterator[Host]:
    with Host.load() as loaded:
        yield loaded


def example_parameters(action: Action) -> dict[str, Any]:
    """The parameters made of each property's exampleValue."""
    return {p.name: p.raw["exampleValue"] for p in action.properties if "exampleValue" in p.raw}


def test_the_twilio_component_is_registered() -> None:
    assert "twilio/v1/sendSMS" in [p.id for p in ACTIONS]


@pytest.mark.parametrize(("descriptor", "action"), ACTIONS)
def test_action_has_valid_parameter_and_output_schemas(
    descriptor: Descriptor, action: Action
) -> None:
    schemas = json_schemas(descriptor)["actions"][action.name]
    Draft202012Validator.check_schema(schemas["parameters"])
    Draft202012Validator.check_schema(schemas["output"])
    assert set(schemas["parameters"]["properties"]) == {p.name for p in action.properties}
    assert set(schemas["output"]["properties"]) == {p["name"] for p in action.output["properties"]}


@pytest.mark.parametrize(("descriptor", "action"), ACTIONS)
def test_every_required_parameter_has_an_example_value(
    descriptor: Descriptor, action: Action
) -> None:
    assert [p.name for p in action.properties if p.required and "exampleValue" not in p.raw] == []


@pytest.mark.parametrize(("descriptor", "action"), ACTIONS)
def test_action_example_validates_against_its_schema_and_the_host(
    descriptor: Descriptor, action: Action, host: Host
) -> None:
    parameters = example_parameters(action)
    schema = json_schemas(descriptor)["actions"][action.name]["parameters"]
    assert list(Draft202012Validator(schema).iter_errors(parameters)) == []
    step = {"type": f"{descriptor.type}/{action.name}", "parameters": parameters}
    assert host.check_step(step) == []


@pytest.mark.parametrize(("descriptor", "action"), ACTIONS)
def test_action_output_example_validates_against_its_output_schema(
    descriptor: Descriptor, action: Action
) -> None:
    schema = json_schemas(descriptor)["actions"][action.name]["output"]
    assert list(Draft202012Validator(schema).iter_errors(sample_output(action))) == []


@pytest.mark.parametrize(("descriptor", "action"), ACTIONS)
def test_action_appears_in_the_palette(descriptor: Descriptor, action: Action) -> None:
    entries = [a for a in palette_entry(descriptor)["actions"] if a["name"] == action.name]
    assert len(entries) == 1
    assert entries[0]["title"] == action.title
    assert [p["name"] for p in entries[0]["properties"]] == [p.name for p in action.properties]
    assert entries[0]["outputDefinition"]["sampleOutput"] == sample_output(action)


@pytest.mark.parametrize(("descriptor", "action"), ACTIONS)
def test_action_appears_on_the_reference_page(descriptor: Descriptor, action: Action) -> None:
    page = reference_page(descriptor)
    assert page.count(f"\n### {action.title}\nName: {action.name}\n") == 1
    assert f'"type" : "{descriptor.type}/{action.name}"' in page
    assert pretty_json(sample_output(action)) in page
    for prop in action.properties:
        assert f"\n| {prop.name} | {prop.label} | " in page
