"""The reference page of a component, in Markdown, and the placeholder examples it shows."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from twilio_component.descriptor import Action, Authorization, Descriptor, Property, Trigger

#: The value an example shows for each type, as the reference page does.
PLACEHOLDERS: Mapping[str, Any] = {
    "STRING": "",
    "INTEGER": 1,
    "NUMBER": 0.0,
    "BOOLEAN": False,
    "DATE_TIME": "2021-01-01T00:00:00",
}

_PARAMETER_HEADER = (
    "|      Name       |      Label     |     Type     |     Description     | Required |\n"
    "|:---------------:|:--------------:|:------------:|:-------------------:|:--------:|\n"
)
_OUTPUT_HEADER = (
    "|     Name     |     Type     |     Description     |\n"
    "|:------------:|:------------:|:-------------------:|\n"
)


# -- examples ----------------------------------------------------------------------------------


def placeholder(spec: Mapping[str, Any]) -> Any:
    """The example value of a parameter or output property: "" for text, 1 for integers…

    An object with declared properties gets each of them; an open object is empty; an
    array holds one placeholder of its item type (none when the item type is not declared).
    """
    kind = spec["type"]
    if kind == "OBJECT":
        return {p["name"]: placeholder(p) for p in spec.get("properties", ())}
    if kind == "ARRAY":
        return [placeholder(spec["items"])] if "items" in spec else []
    return PLACEHOLDERS[kind]


def example_step(descriptor: Descriptor, action: Action) -> dict[str, Any]:
    """The step the page shows for ``action``: its label, name, placeholder parameters, type."""
    return {
        "label": action.title,
        "name": action.name,
        "parameters": {p.name: placeholder(p.raw) for p in action.properties},
        "type": f"{descriptor.type}/{action.name}",
    }


def sample_output(action: Action | Trigger) -> dict[str, Any]:
    """The output example of ``action`` (or a trigger's event): every key with its placeholder."""
    return {p["name"]: placeholder(p) for p in action.output["properties"]}


def pretty_json(value: Any) -> str:
    """``value`` printed as the reference page prints JSON (Jackson's default pretty printer).

    Objects put one ``"key" : value`` per line, indented by two spaces per enclosing object;
    arrays stay on the line they open (``[ "", "" ]``, ``[ {`` … ``} ]``); empty containers are
    ``{ }`` and ``[ ]``.
    """
    return _pretty(value, 0)


def _pretty(value: Any, depth: int) -> str:
    if isinstance(value, Mapping):
        if not value:
            return "{ }"
        inner = "  " * (depth + 1)
        items = [f"{inner}{_scalar(str(k))} : {_pretty(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * depth + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[ ]"
        return "[ " + ", ".join(_pretty(v, depth) for v in value) + " ]"
    return _scalar(value)


def _scalar(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# -- the page ----------------------------------------------------------------------------------


def reference_page(descriptor: Descriptor) -> str:
    """The component's reference page: card, connections, each action with its output, then
    each trigger (when it has any) with its event."""
    page = (
        _front_matter(descriptor)
        + _connections(descriptor)
        + "<hr />\n\n\n\n## Actions\n\n"
        + "".join(_action(descriptor, action) for action in descriptor.actions)
    )
    if descriptor.triggers:
        page += "<hr />\n\n\n\n## Triggers\n\n" + "".join(
            _trigger(descriptor, trigger) for trigger in descriptor.triggers
        )
    return page + "\n\n\n"


def example_trigger(descriptor: Descriptor, trigger: Trigger) -> dict[str, Any]:
    """The ``trigger`` of a workflow file that the page shows: its type and parameters."""
    return {
        "type": f"{descriptor.type}/{trigger.name}",
        "parameters": {p.name: placeholder(p.raw) for p in trigger.properties},
    }


def _trigger(descriptor: Descriptor, trigger: Trigger) -> str:
    parts = [
        f"\n### {trigger.title}\nName: {trigger.name}\n\nType: {trigger.type}\n\n"
        f"{trigger.description}\n\n"
    ]
    if trigger.properties:
        parts.append("#### Properties\n\n" + _parameter_table(trigger.properties) + "\n")
    parts.append(
        "#### Example JSON Structure\n```json\n"
        + pretty_json({"trigger": example_trigger(descriptor, trigger)})
        + "\n```\n\n"
    )
    parts.append(
        "#### Output\n\n\n\nType: OBJECT\n\n\n#### Properties\n\n"
        + _output_table(trigger.output["properties"])
        + "\n\n\n\n#### Output Example\n```json\n"
        + pretty_json(sample_output(trigger))
        + "\n```\n\n"
    )
    return "".join(parts)


def _front_matter(descriptor: Descriptor) -> str:
    categories = ", ".join(c["name"] for c in descriptor.categories)
    return (
        "---\n"
        f"title: {_scalar(descriptor.title)}\n"
        f"description: {_scalar(descriptor.description)}\n"
        "---\n\n"
        f"{descriptor.description}\n\n\n"
        f"Categories: {categories}\n\n\n"
        f"Type: {descriptor.type}\n\n"
        "<hr />\n\n\n\n"
    )


def _connections(descriptor: Descriptor) -> str:
    blocks = "\n\n".join(_authorization(a) for a in descriptor.authorizations)
    return f"## Connections\n\nVersion: {descriptor.connection_version}\n\n" + blocks + "\n\n\n\n\n"


def _authorization(authorization: Authorization) -> str:
    heading = f"\n### {authorization.title}\n\n#### Properties\n\n"
    return heading + _parameter_table(authorization.properties)


def _action(descriptor: Descriptor, action: Action) -> str:
    parts = [f"\n### {action.title}\nName: {action.name}\n\n{action.description}\n\n"]
    if action.properties:
        parts.append("#### Properties\n\n" + _parameter_table(action.properties) + "\n")
    parts.append(
        "#### Example JSON Structure\n```json\n"
        + pretty_json(example_step(descriptor, action))
        + "\n```\n\n"
    )
    parts.append(
        "#### Output\n\n\n\nType: OBJECT\n\n\n#### Properties\n\n"
        + _output_table(action.output["properties"])
        + "\n\n\n\n#### Output Example\n```json\n"
        + pretty_json(sample_output(action))
        + "\n```\n\n"
    )
    return "".join(parts)


def _parameter_table(properties: Sequence[Property]) -> str:
    rows = (
        _row(p.name, p.label, parameter_type(p.raw), p.description, str(p.required).lower())
        for p in properties
    )
    return _PARAMETER_HEADER + "".join(rows)


def _output_table(properties: Iterable[Mapping[str, Any]]) -> str:
    rows = (_row(p["name"], output_type(p), p.get("description", "")) for p in properties)
    return _OUTPUT_HEADER + "".join(rows)


def _row(*cells: str) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |\n"


def _cell(text: str) -> str:
    return " ".join(text.split("\n")).replace("|", "\\|")


def parameter_type(spec: Mapping[str, Any]) -> str:
    """The Type cell of a parameter: its type, with its options or item type when it has them."""
    kind: str = spec["type"]
    if "options" in spec:
        return _details(kind, "Options", ", ".join(str(o) for o in spec["options"]))
    if kind == "BOOLEAN":
        return _details(kind, "Options", "true, false")
    if kind == "ARRAY" and "items" in spec:
        return _details(kind, "Items", f"[{spec['items']['type']}]")
    return kind


def output_type(spec: Mapping[str, Any]) -> str:
    """The Type cell of an output property: objects list their properties as ``TYPE\\(name)``."""
    kind: str = spec["type"]
    if kind == "OBJECT":
        return _details(kind, "Properties", _shape(spec))
    if kind == "ARRAY":
        return _details(kind, "Items", _shape(spec))
    return kind


def _shape(spec: Mapping[str, Any]) -> str:
    kind = spec["type"]
    if kind == "OBJECT":
        inner = ", ".join(f"{_shape(p)}\\({p['name']})" for p in spec.get("properties", ()))
        return "{" + inner + "}"
    if kind == "ARRAY":
        return "[" + (_shape(spec["items"]) if "items" in spec else "") + "]"
    return str(kind)


def _details(kind: str, summary: str, body: str) -> str:
    return f"{kind} <details> <summary> {summary} </summary> {body} </details>"
