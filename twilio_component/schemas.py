"""JSON Schemas (draft 2020-12) derived from a descriptor: connection, parameters and output."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from twilio_component.descriptor import Action, Authorization, Descriptor, Property, Trigger

DRAFT = "https://json-schema.org/draft/2020-12/schema"
LOCAL_DATE_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$"

#: The JSON type of each descriptor type.
JSON_TYPES = {
    "STRING": "string",
    "INTEGER": "integer",
    "NUMBER": "number",
    "BOOLEAN": "boolean",
    "DATE_TIME": "string",
    "ARRAY": "array",
    "OBJECT": "object",
}
_COPIED = (
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "format",
)


def value_schema(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema of one property's value, constraints included."""
    kind = spec["type"]
    schema: dict[str, Any] = {"type": JSON_TYPES[kind]}
    if kind == "DATE_TIME":
        schema["format"] = "date-time"
    for keyword in _COPIED:
        if keyword in spec:
            schema[keyword] = spec[keyword]
    if "options" in spec:
        schema["enum"] = list(spec["options"])
    if "items" in spec:
        schema["items"] = value_schema(spec["items"])
    if spec.get("acceptsJsonString"):
        # The value or its JSON text; ObjectValidator parses the text and checks its type.
        schema["type"] = [schema["type"], "string"]
    return schema


def property_schema(prop: Property) -> dict[str, Any]:
    """A property's value schema with its label as title and its description."""
    schema = {"title": prop.label, "description": prop.description, **value_schema(prop.raw)}
    if prop.secret:
        schema["writeOnly"] = True
    if "exampleValue" in prop.raw:
        schema["examples"] = [prop.raw["exampleValue"]]
    return schema


def object_schema(
    properties: Iterable[Property],
    *,
    title: str,
    description: str,
    rules: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A closed object schema over ``properties``, with the rules JSON Schema can say."""
    props = tuple(properties)
    schema: dict[str, Any] = {
        "$schema": DRAFT,
        "title": title,
        "description": description,
        "type": "object",
        "additionalProperties": False,
        "properties": {p.name: property_schema(p) for p in props},
        "required": [p.name for p in props if p.required],
    }
    all_of = [rule_schema(rule) for rule in rules]
    if any(all_of):
        schema["allOf"] = [s for s in all_of if s]
    return schema


def rule_schema(rule: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema form of a cross-parameter rule, or {} when only code can check it.

    ``requires`` with ``equals`` (only when a parameter has a given value) is left to code.
    """
    names = list(rule["parameters"])
    message = rule.get("message", "")
    if rule["rule"] == "one_of":
        return {"anyOf": [{"required": [n]} for n in names], "description": message}
    if rule["rule"] == "exactly_one":
        return {"oneOf": [{"required": [n]} for n in names], "description": message}
    if rule["rule"] == "requires" and "equals" not in rule:
        return {"dependentRequired": {rule["when"]: names}, "description": message}
    return {}


def connection_schema(authorization: Authorization) -> dict[str, Any]:
    """The JSON Schema of a connection using ``authorization``."""
    return object_schema(
        authorization.properties,
        title=authorization.title,
        description=f"Connection properties for {authorization.title}.",
    )


def parameters_schema(action: Action | Trigger) -> dict[str, Any]:
    """The JSON Schema of an action's (or a trigger's) parameters."""
    return object_schema(
        action.properties, title=action.title, description=action.description, rules=action.rules
    )


def output_schema(action: Action | Trigger) -> dict[str, Any]:
    """The JSON Schema of an action's output (or a trigger's event): every key present, nulls
    allowed at the top.

    Any top-level value may be null (a service may leave out what it does not know); the
    descriptor's ``nullable`` says which ones are null in normal use (workflow checks read it).
    An ``open`` output may carry keys beyond those listed.
    """
    schema = _output_object(action.output["properties"], nullable=True)
    if action.output.get("open"):
        schema["additionalProperties"] = True
    return {"$schema": DRAFT, "title": f"{action.title} output", **schema}


def _output_object(properties: Iterable[Mapping[str, Any]], *, nullable: bool) -> dict[str, Any]:
    props = list(properties)
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            p["name"]: _output_value(p, nullable=nullable or bool(p.get("nullable"))) for p in props
        },
        "required": [p["name"] for p in props],
    }


def _output_value(spec: Mapping[str, Any], *, nullable: bool) -> dict[str, Any]:
    kind = spec["type"]
    schema: dict[str, Any]
    if kind == "OBJECT" and "properties" in spec:
        schema = _output_object(spec["properties"], nullable=False)
    elif kind == "OBJECT":
        extra = spec.get("additionalProperties")
        schema = {"type": "object"}
        if extra:
            schema["additionalProperties"] = {"type": JSON_TYPES[extra["type"]]}
    elif kind == "DATE_TIME":
        schema = {"type": "string", "pattern": LOCAL_DATE_TIME}
    elif kind == "ARRAY" and "items" in spec:
        schema = {"type": "array", "items": _output_value(spec["items"], nullable=False)}
    else:
        schema = {"type": JSON_TYPES[kind]}
    if "description" in spec:
        schema["description"] = spec["description"]
    if nullable:
        schema["type"] = [schema["type"], "null"]
    return schema


def descriptor_schemas(descriptor: Descriptor) -> dict[str, Any]:
    """All schemas of a component: connection by authorization, parameters and output by action
    and by trigger (when it has any)."""
    return {
        "type": descriptor.type,
        "connection": {a.name: connection_schema(a) for a in descriptor.authorizations},
        "actions": {
            a.name: {"parameters": parameters_schema(a), "output": output_schema(a)}
            for a in descriptor.actions
        },
        **(
            {
                "triggers": {
                    t.name: {"parameters": parameters_schema(t), "output": output_schema(t)}
                    for t in descriptor.triggers
                }
            }
            if descriptor.triggers
            else {}
        ),
    }
