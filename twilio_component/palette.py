"""The palette entry of a component: the card, forms and output shape a low-code editor shows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twilio_component.descriptor import Action, Authorization, Descriptor, Property
from twilio_component.reference_page import sample_output

#: The form control an editor uses for a parameter of each type that does not name one.
DEFAULT_CONTROLS: Mapping[str, str] = {
    "STRING": "TEXT",
    "INTEGER": "INTEGER",
    "NUMBER": "NUMBER",
    "BOOLEAN": "CHECKBOX",
    "DATE_TIME": "DATE_TIME",
    "ARRAY": "ARRAY_BUILDER",
    "OBJECT": "OBJECT_BUILDER",
}
# Constraints copied from the descriptor when a property declares them.
_CONSTRAINTS = (
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "pattern",
    "format",
    "options",
    "items",
    "exampleValue",
)
# Descriptor keys about how the component computes its output, not about its shape.
_INTERNAL_OUTPUT_KEYS = frozenset({"source", "shape"})


def palette_entry(descriptor: Descriptor) -> dict[str, Any]:
    """The component definition an editor's palette needs, keys sorted at every level.

    Its shape follows the component-definition API of the platform whose reference page we
    match: ``name``, ``title``, ``description``, ``icon`` (the SVG text), ``version``,
    ``componentCategories``, ``connection`` (``version``, ``authorizations``) and ``actions``,
    each with its ``properties`` (form fields) and ``outputDefinition`` (``outputSchema`` and
    ``sampleOutput``).
    """
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
            "authorizations": [_authorization(a) for a in descriptor.authorizations],
        },
        "actions": [_action(a) for a in descriptor.actions],
    }
    return sort_keys(entry)  # type: ignore[no-any-return]


def _authorization(authorization: Authorization) -> dict[str, Any]:
    return {
        "name": authorization.name,
        "title": authorization.title,
        "properties": [property_entry(p) for p in authorization.properties],
    }


def _action(action: Action) -> dict[str, Any]:
    return {
        "name": action.name,
        "title": action.title,
        "description": action.description,
        "properties": [property_entry(p) for p in action.properties],
        "outputDefinition": {
            "outputSchema": output_definition(action.output),
            "sampleOutput": sample_output(action),
        },
    }


def property_entry(prop: Property) -> dict[str, Any]:
    """One form field: name, label, type, control, flags, and the constraints it declares."""
    raw = prop.raw
    entry: dict[str, Any] = {
        "name": prop.name,
        "label": prop.label,
        "type": prop.type,
        "description": prop.description,
        "required": prop.required,
        "secret": prop.secret,
        "advancedOption": bool(raw.get("advancedOption", False)),
        "controlType": raw.get("controlType") or _default_control(raw),
    }
    entry.update({key: raw[key] for key in _CONSTRAINTS if key in raw})
    return entry


def _default_control(raw: Mapping[str, Any]) -> str:
    if "options" in raw:
        return "SELECT"
    if raw.get("format") == "uri":
        return "URL"
    return DEFAULT_CONTROLS[raw["type"]]


def output_definition(spec: Mapping[str, Any]) -> dict[str, Any]:
    """An output property tree (``type``, ``name``, nested ``properties``) without internals."""
    definition: dict[str, Any] = {}
    for key, value in spec.items():
        if key in _INTERNAL_OUTPUT_KEYS:
            continue
        if key == "properties":
            definition[key] = [output_definition(p) for p in value]
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
