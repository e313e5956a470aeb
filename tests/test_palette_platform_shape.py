"""The palette entry, key by key, against the key sets of the platform's component definitions."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import yaml

from twilio_component.describe import palette_entry
from twilio_component.descriptor import Descriptor, load_descriptor, parse_descriptor
from twilio_component.resources import read_text


def _keys(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The platform's component-definition format, written out from its definition snapshots: for
# each kind of object, the keys the platform has ("keys") and those it always fills ("filled");
# the others it may leave null, and we leave out. "ours" are our additions, allowed beside them.
_FIELD = _keys(
    "advancedOption controlType defaultValue description displayCondition exampleValue"
    " expressionEnabled hidden label metadata name placeholder required type"
)
_BY_TYPE = {
    "STRING": _keys(
        "languageId maxLength minLength options optionsDataSource optionsLoadedDynamically regex"
    ),
    "INTEGER": _keys("maxValue minValue options optionsDataSource"),
    "NUMBER": _keys(
        "maxNumberPrecision maxValue minNumberPrecision minValue numberPrecision options"
        " optionsDataSource"
    ),
    "BOOLEAN": _keys("options"),
    "DATE_TIME": _keys("options optionsDataSource"),
    "ARRAY": _keys("items maxItems minItems multipleValues options optionsDataSource"),
    "OBJECT": _keys("additionalProperties multipleValues options optionsDataSource properties"),
}
PLATFORM: Mapping[str, Mapping[str, frozenset[str]]] = {
    "component": {
        "keys": _keys(
            "actions clusterElements componentCategories connection customAction"
            " customActionHelp description icon inputs metadata name resources tags title"
            " triggers unifiedApi version"
        ),
        "filled": _keys("actions componentCategories connection description icon name title"),
    },
    "category": {"keys": _keys("label name"), "filled": _keys("label name")},
    "connection": {
        "keys": _keys(
            "authorizationRequired authorizations baseUri help processErrorResponse properties"
            " test version"
        ),
        "filled": _keys("authorizations version"),
    },
    "authorization": {
        "keys": _keys(
            "acquire apply authorizationCallback authorizationUrl clientId clientSecret"
            " description detectOn name oauth2AuthorizationExtraQueryParameters pkce properties"
            " refresh refreshOn refreshToken refreshUrl scopes title tokenUrl type"
        ),
        "filled": _keys("name properties title type"),
    },
    "action": {
        "keys": _keys(
            "batch beforeResume beforeSuspend beforeTimeoutResume deprecated description help"
            " metadata name outputDefinition perform processErrorResponse properties"
            " resumePerform title workflowNodeDescription"
        ),
        "filled": _keys("description name outputDefinition properties title"),
    },
    "outputDefinition": {
        "keys": _keys("output outputResponse outputSchema sampleOutput"),
        "filled": _keys("outputResponse outputSchema"),
    },
    "outputResponse": {
        "keys": _keys("outputSchema placeholder sampleOutput"),
        "filled": _keys("outputSchema"),
    },
    "option": {"keys": _keys("description label value"), "filled": _keys("label value")},
    # A form field, an array's item and an output property share the property format.
    "field": {"keys": _FIELD, "filled": _keys("controlType description label name required type")},
    "item": {"keys": _FIELD, "filled": _keys("controlType required type")},
    "output": {"keys": _FIELD, "filled": _keys("controlType name required type")},
    "outputRoot": {"keys": _FIELD, "filled": _keys("controlType properties required type")},
}
OURS: Mapping[str, frozenset[str]] = {
    "field": _keys("format secret"),
    "item": _keys("format"),
    "output": _keys("nullable"),
}
# Keys whose value is a list of objects of a kind, and those whose value is one object.
LISTS = {
    "actions": "action",
    "componentCategories": "category",
    "authorizations": "authorization",
    "options": "option",
    "items": "item",
}
OBJECTS = {"connection": "connection", "outputDefinition": "outputDefinition"}


def differences(value: Mapping[str, Any], kind: str, path: str = "$") -> Iterator[str]:
    """Every way ``value`` (an object of ``kind``) and what it holds differ from the platform."""
    spec = PLATFORM[kind]
    allowed = spec["keys"] | OURS.get(kind, frozenset())
    if kind in {"field", "item", "output", "outputRoot"}:
        allowed |= _BY_TYPE.get(value.get("type", ""), frozenset())
    for key in sorted(spec["filled"] - set(value)):
        yield f"{path}: no {key}"
    for key in sorted(set(value) - allowed):
        yield f"{path}: {key} is not a platform key of a {kind}"
    for key, child in value.items():
        where = f"{path}.{key}"
        kinds = _children(kind, key)
        if kinds is None:
            continue
        many, child_kind = kinds
        if many and not isinstance(child, list):
            yield f"{where}: a list in the platform, here {type(child).__name__}"
        elif not many and not isinstance(child, Mapping):
            yield f"{where}: an object in the platform, here {type(child).__name__}"
        else:
            for i, item in enumerate(child if many else [child]):
                at = f"{where}[{i}]" if many else where
                if isinstance(item, Mapping):
                    yield from differences(item, child_kind, at)
                else:
                    yield f"{at}: an object in the platform, here {type(item).__name__}"


def _children(kind: str, key: str) -> tuple[bool, str] | None:
    """Whether ``key`` of a ``kind`` holds a list or one object, and of which kind; else None."""
    if key == "properties":
        if kind in {"authorization", "action"}:
            return True, "field"
        return (True, "output") if kind in {"output", "outputRoot"} else None
    if key == "additionalProperties" and kind in {"output", "outputRoot"}:
        return True, "item"
    if key == "outputSchema":
        return False, "outputRoot"
    if key == "outputResponse":
        return False, "outputResponse"
    if key in LISTS:
        return True, LISTS[key]
    if key in OBJECTS:
        return False, OBJECTS[key]
    return None


@pytest.fixture
def descriptor() -> Descriptor:
    return load_descriptor(read_text("component.yaml"))


def test_palette_has_the_platform_keys_and_no_others(descriptor: Descriptor) -> None:
    assert list(differences(palette_entry(descriptor), "component")) == []


def test_palette_of_every_parameter_and_output_type_has_the_platform_keys() -> None:
    raw = copy.deepcopy(yaml.safe_load(read_text("component.yaml")))
    action = raw["actions"][0]
    types = ("STRING", "INTEGER", "NUMBER", "BOOLEAN", "DATE_TIME", "ARRAY", "OBJECT")
    action["properties"] += [
        {"name": f"P{t}", "label": t, "type": t, "description": "Any."} for t in types
    ]
    action["output"]["properties"] += [{"name": f"o{t}", "type": t} for t in types]
    assert list(differences(palette_entry(parse_descriptor(raw)), "component")) == []


def test_shape_check_reports_a_key_the_platform_does_not_have(descriptor: Descriptor) -> None:
    entry = palette_entry(descriptor)
    entry["actions"][0]["properties"][0]["pattern"] = "^x$"
    assert list(differences(entry, "component")) == [
        "$.actions[0].properties[0]: pattern is not a platform key of a field"
    ]


def test_shape_check_reports_an_object_where_the_platform_has_a_list(
    descriptor: Descriptor,
) -> None:
    entry = palette_entry(descriptor)
    (uris,) = [
        p
        for p in entry["actions"][0]["outputDefinition"]["outputSchema"]["properties"]
        if "additionalProperties" in p
    ]
    uris["additionalProperties"] = {"type": "STRING"}
    assert [d for d in differences(entry, "component") if "additionalProperties" in d] == [
        "$.actions[0].outputDefinition.outputSchema.properties[19].additionalProperties:"
        " a list in the platform, here dict"
    ]
