"""The palette entry of a component: the card, forms and output shape a low-code editor shows."""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from twilio_component.descriptor import Action, Authorization, Descriptor, Property, Trigger
from twilio_component.reference_page import sample_output

#: The form control an editor uses for a parameter of each type that does not name one.
DEFAULT_CONTROLS: Mapping[str, str] = {
    "STRING": "TEXT",
    "INTEGER": "INTEGER",
    "NUMBER": "NUMBER",
    "BOOLEAN": "SELECT",
    "DATE_TIME": "DATE_TIME",
    "ARRAY": "ARRAY_BUILDER",
    "OBJECT": "OBJECT_BUILDER",
}
#: Descriptor controls the platform has no name for, and the platform's control for each.
PLATFORM_CONTROLS: Mapping[str, str] = {"CHECKBOX": "SELECT", "JSON": "CODE_EDITOR"}
#: The choices the platform gives every boolean field (its boolean control is a select).
BOOLEAN_OPTIONS: tuple[Mapping[str, Any], ...] = (
    {"label": "True", "value": True},
    {"label": "False", "value": False},
)
#: The platform's credential types by the fields its own request signing reads; an
#: authorization with none of these field sets is CUSTOM (the component applies it itself).
AUTHORIZATION_TYPES: tuple[tuple[str, frozenset[str]], ...] = (
    ("BASIC_AUTH", frozenset({"username", "password"})),
    ("API_KEY", frozenset({"key", "value"})),
    ("BEARER_TOKEN", frozenset({"token"})),
)
# Descriptor constraints copied under the platform's name for them when a property declares them.
_CONSTRAINTS: Mapping[str, str] = {
    "minLength": "minLength",
    "maxLength": "maxLength",
    "minimum": "minValue",
    "maximum": "maxValue",
    "minItems": "minItems",
    "maxItems": "maxItems",
    "pattern": "regex",
    "format": "format",
    "exampleValue": "exampleValue",
}
# Descriptor keys about how the component computes its output, not about its shape.
_INTERNAL_OUTPUT_KEYS = frozenset({"source", "shape", "open"})


def palette_entry(descriptor: Descriptor) -> dict[str, Any]:
    """The component definition an editor's palette needs, keys sorted at every level.

    Its shape follows the component-definition format of the platform whose reference page we
    match: ``name``, ``title``, ``description``, ``icon`` (the SVG text), ``version``,
    ``componentCategories``, ``connection`` (``version``, ``authorizations``, each with its
    ``type``) and ``actions``, each with its ``properties`` (form fields) and
    ``outputDefinition`` (``outputSchema``, ``sampleOutput`` and both again in
    ``outputResponse``), then ``triggers`` when it has any (the same, and their ``type``:
    ``DYNAMIC_WEBHOOK`` or ``STATIC_WEBHOOK``). Keys the platform leaves null are left out.
    """
    raw_authorizations = descriptor.raw.get("connection", {}).get("authorizations", [])
    descriptions = {a["name"]: a["description"] for a in raw_authorizations if "description" in a}
    entry = {
        "name": descriptor.name,
        "title": descriptor.title,
        "description": descriptor.description,
        "icon": descriptor.read_resource(descriptor.icon),
        "version": descriptor.version,
        "componentCategories": [
            {"name": c["name"], "label": c["label"]} for c in descriptor.categories
        ],
        "connection": {
            "version": descriptor.connection_version,
            "authorizations": [
                _authorization(a, descriptions.get(a.name)) for a in descriptor.authorizations
            ],
        },
        "actions": [_action(a) for a in descriptor.actions],
    }
    if descriptor.triggers:
        entry["triggers"] = [_trigger(t) for t in descriptor.triggers]
    return sort_keys(entry)  # type: ignore[no-any-return]


def authorization_type(authorization: Authorization) -> str:
    """The platform's type for ``authorization``: the first whose fields it has, else CUSTOM."""
    names = {p.name for p in authorization.properties}
    return next((kind for kind, needs in AUTHORIZATION_TYPES if needs <= names), "CUSTOM")


def _authorization(authorization: Authorization, description: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": authorization.name,
        "title": authorization.title,
        "type": authorization_type(authorization),
        "properties": [property_entry(p) for p in authorization.properties],
    }
    if description is not None:
        entry["description"] = description
    return entry


def _action(action: Action) -> dict[str, Any]:
    def output() -> dict[str, Any]:
        return {
            "outputSchema": output_definition(action.output),
            "sampleOutput": sample_output(action),
        }

    entry = {
        "name": action.name,
        "title": action.title,
        "description": action.description,
        "properties": [property_entry(p) for p in action.properties],
        "outputDefinition": {**output(), "outputResponse": output()},
    }
    if action.read_only:
        entry["metadata"] = {"readOnly": True}
    return entry


def _trigger(trigger: Trigger) -> dict[str, Any]:
    def output() -> dict[str, Any]:
        return {
            "outputSchema": output_definition(trigger.output),
            "sampleOutput": sample_output(trigger),
        }

    return {
        "name": trigger.name,
        "title": trigger.title,
        "description": trigger.description,
        "type": trigger.type,
        "properties": [property_entry(p) for p in trigger.properties],
        "outputDefinition": {**output(), "outputResponse": output()},
    }


def property_entry(prop: Property) -> dict[str, Any]:
    """One form field: name, label, type, control, flags, and the constraints it declares."""
    entry: dict[str, Any] = {
        "name": prop.name,
        "label": prop.label,
        "description": prop.description,
        "required": prop.required,
        "secret": prop.secret,
        "advancedOption": bool(prop.raw.get("advancedOption", False)),
    }
    entry.update(_field(prop.raw))
    return entry


def _field(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The type, control and constraints of a parameter or of an array's item."""
    kind = raw["type"]
    named = raw.get("controlType")
    control = PLATFORM_CONTROLS.get(named, named) if named else _default_control(raw)
    entry: dict[str, Any] = {"type": kind, "controlType": control}
    entry.update({ours: raw[key] for key, ours in _CONSTRAINTS.items() if key in raw})
    if named == "JSON" and kind == "STRING":
        entry["languageId"] = "json"
    if "options" in raw:
        entry["options"] = [{"label": str(v), "value": v} for v in raw["options"]]
    elif kind == "BOOLEAN":
        entry["options"] = [dict(o) for o in BOOLEAN_OPTIONS]
    if "items" in raw:
        entry["items"] = [{**_field(raw["items"]), "required": False}]
    if kind == "STRING" and "pattern" in raw:
        lengths = pattern_lengths(raw["pattern"])
        if lengths is not None:
            entry.setdefault("minLength", lengths[0])
            entry.setdefault("maxLength", lengths[1])
    return entry


def _default_control(raw: Mapping[str, Any]) -> str:
    if "options" in raw:
        return "SELECT"
    if raw.get("format") == "uri":
        return "URL"
    return DEFAULT_CONTROLS[raw["type"]]


def pattern_lengths(pattern: str) -> tuple[int, int] | None:
    """The least and greatest length of a string ``pattern`` accepts, if it bounds both.

    Only a pattern anchored at both ends (``^…$``, in every alternative) bounds the whole
    string; one whose longest match is unbounded, or that cannot be read, gives None.
    """
    try:
        # The standard library's own regex parser (private, so any failure means "unknown").
        parser = importlib.import_module("re._parser")
        parsed = parser.parse(pattern)
        low, high = parsed.getwidth()
        multiline = parsed.state.flags & re.MULTILINE
        anchored = _anchored(parser, list(parsed), start=True) and _anchored(
            parser, list(parsed), start=False
        )
    except Exception:  # an unreadable pattern only means no derived lengths
        return None
    if multiline or not anchored or high >= parser.MAXREPEAT:
        return None
    return int(low), int(high)


def _anchored(parser: Any, items: Sequence[Any], *, start: bool) -> bool:
    """Whether the parsed pattern ``items`` begins (``start``) or ends at the string's edge."""
    if not start:
        lookarounds = (parser.ASSERT, parser.ASSERT_NOT)
        items = list(items)
        while items and items[-1][0] in lookarounds:
            items.pop()
    if not items:
        return False
    op, argument = items[0] if start else items[-1]
    if op is parser.AT:
        edges = (
            (parser.AT_BEGINNING, parser.AT_BEGINNING_STRING)
            if start
            else (parser.AT_END, parser.AT_END_STRING)
        )
        return argument in edges
    if op is parser.BRANCH:
        return all(_anchored(parser, list(branch), start=start) for branch in argument[1])
    if op is parser.SUBPATTERN:
        return _anchored(parser, list(argument[-1]), start=start)
    return False


def output_definition(spec: Mapping[str, Any]) -> dict[str, Any]:
    """An output property tree in the platform's shape (controls, ``required``), no internals.

    Nested ``properties`` and ``additionalProperties`` are lists of output properties, as the
    platform gives them; each property has a ``controlType`` and ``required: false``.
    """
    kind = spec["type"]
    definition: dict[str, Any] = {"controlType": DEFAULT_CONTROLS[kind], "required": False}
    if kind == "BOOLEAN":
        definition["options"] = [dict(o) for o in BOOLEAN_OPTIONS]
    for key, value in spec.items():
        if key in _INTERNAL_OUTPUT_KEYS:
            continue
        if key == "properties":
            definition[key] = [output_definition(p) for p in value]
        elif key in ("additionalProperties", "items"):
            definition[key] = [output_definition(value)]
        else:
            definition[key] = value
    return definition


def sort_keys(value: Any) -> Any:
    """``value`` with the keys of every object in sorted order (list order is kept)."""
    if isinstance(value, Mapping):
        return {k: sort_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [sort_keys(v) for v in value]
    return value
