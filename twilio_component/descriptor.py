"""Loads a component descriptor (component.yaml) and checks it against its meta-schema."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from twilio_component.errors import DescriptorError, Problem
from twilio_component.resources import read_text

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Property:
    """One parameter of an action or a connection, as the descriptor declares it."""

    name: str
    label: str
    type: str
    description: str
    required: bool
    secret: bool
    raw: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Authorization:
    """One way to authenticate a connection (e.g. basic_auth) and its properties."""

    name: str
    title: str
    properties: tuple[Property, ...]


@dataclass(frozen=True, slots=True)
class Action:
    """One action of a component: its parameters, cross-parameter rules and output shape."""

    name: str
    title: str
    description: str
    properties: tuple[Property, ...]
    rules: tuple[Mapping[str, Any], ...]
    output: Mapping[str, Any] = field(repr=False)
    #: The action only reads (a lookup, a fetch): it sends, creates and changes nothing.
    read_only: bool = False
    #: The action may undo or end something that exists (hang up a call), not only add.
    destructive: bool = False
    #: The action reaches people or systems outside the host.
    open_world: bool = True


@dataclass(frozen=True, slots=True)
class Trigger:
    """One trigger of a component: what starts a workflow (a webhook), its parameters and the
    event object it emits."""

    name: str
    title: str
    description: str
    #: How it is delivered: DYNAMIC_WEBHOOK (the host registers the webhook URL with the
    #: service when enabled) or STATIC_WEBHOOK (the URL is configured by hand, or per message).
    type: str
    properties: tuple[Property, ...]
    output: Mapping[str, Any] = field(repr=False)
    #: Triggers have no cross-parameter rules of their own; kept so schemas treat both alike.
    rules: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A validated component descriptor."""

    name: str
    version: int
    title: str
    description: str
    icon: str
    categories: tuple[Mapping[str, str], ...]
    connection_version: int
    authorizations: tuple[Authorization, ...]
    actions: tuple[Action, ...]
    raw: Mapping[str, Any] = field(repr=False)
    #: The folder the descriptor's relative paths (its icon) resolve against; None: the
    #: current directory.
    base: Traversable | None = field(default=None, repr=False, compare=False)
    triggers: tuple[Trigger, ...] = ()

    def read_resource(self, relative: str) -> str:
        """The text of a file the descriptor names (e.g. its icon), relative to its folder."""
        node: Traversable = self.base if self.base is not None else Path.cwd()
        for part in relative.split("/"):
            node = node / part
        try:
            return node.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            where = f"{self.base}" if self.base is not None else "the current directory"
            raise DescriptorError(
                [Problem("$.icon", f"{relative!r} cannot be read from {where} ({error})")],
                subject=f"component {self.type}",
            ) from None

    @property
    def type(self) -> str:
        """The component's type as steps name it, e.g. ``twilio/v1``."""
        return f"{self.name}/v{self.version}"

    @property
    def secret_properties(self) -> frozenset[str]:
        """The names of the connection properties that are secrets (an Auth Token)."""
        return frozenset(
            prop.name for a in self.authorizations for prop in a.properties if prop.secret
        )

    def action(self, name: str) -> Action:
        """The action called ``name``; KeyError if there is none."""
        for action in self.actions:
            if action.name == name:
                return action
        raise KeyError(name)

    def trigger(self, name: str) -> Trigger:
        """The trigger called ``name``; KeyError if there is none."""
        for trigger in self.triggers:
            if trigger.name == name:
                return trigger
        raise KeyError(name)


@cache
def meta_schema_validator() -> jsonschema.protocols.Validator:
    """The compiled validator of schemas/component.schema.json."""
    schema = json.loads(read_text("schemas/component.schema.json"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def parse_descriptor(
    data: object, *, source: str = "component descriptor", base: Traversable | None = None
) -> Descriptor:
    """Validate descriptor data against the meta-schema and build a Descriptor.

    ``base`` is the folder its relative paths (the icon) resolve against.
    """
    errors = meta_schema_validator().iter_errors(data)  # type: ignore[arg-type]
    problems = [
        Problem(error.json_path, _describe(error))
        for error in sorted(errors, key=lambda e: e.json_path)
    ]
    if problems:
        raise DescriptorError(problems, subject=source)
    assert isinstance(data, Mapping)
    _check_unique_names(data, source)
    return Descriptor(
        name=data["name"],
        version=data["version"],
        title=data["title"],
        description=data["description"],
        icon=data["icon"],
        categories=tuple(data["categories"]),
        connection_version=data["connection"]["version"],
        authorizations=tuple(
            Authorization(a["name"], a["title"], _properties(a["properties"]))
            for a in data["connection"]["authorizations"]
        ),
        actions=tuple(
            Action(
                name=a["name"],
                title=a["title"],
                description=a["description"],
                properties=_properties(a["properties"]),
                rules=tuple(a.get("rules", ())),
                output=a["output"],
                read_only=bool(a.get("readOnly", False)),
                destructive=bool(a.get("destructive", False)),
                open_world=bool(a.get("openWorld", True)),
            )
            for a in data["actions"]
        ),
        raw=data,
        base=base,
        triggers=tuple(
            Trigger(
                name=t["name"],
                title=t["title"],
                description=t["description"],
                type=t["type"],
                properties=_properties(t.get("properties", ())),
                output=t["output"],
            )
            for t in data.get("triggers", ())
        ),
    )


def load_descriptor(
    source: str | Traversable | os.PathLike[str],
    *,
    base: Traversable | os.PathLike[str] | None = None,
    name: str | None = None,
) -> Descriptor:
    """Load a component descriptor and validate it against the meta-schema.

    ``source`` is a file (a path, or ``importlib.resources.files("pkg") / "component.yaml"``),
    whose folder the icon is then relative to, or YAML text, whose relative paths resolve
    against ``base`` (the current directory when None). ``name`` is how errors call it.
    """
    folder: Traversable | None = Path(base) if isinstance(base, os.PathLike) else base
    if isinstance(source, str):
        text = source
        label = name or "component.yaml"
    else:
        node: Traversable = Path(source) if isinstance(source, os.PathLike) else source
        label = name or str(node)
        try:
            text = node.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise DescriptorError(
                [Problem("$", f"cannot be read ({error})")], subject=label
            ) from None
        if folder is None:
            parent = getattr(node, "parent", None)
            folder = parent if isinstance(parent, Traversable) else None
    return _load_text(text, source=label, base=folder)


#: libyaml's safe loader when PyYAML has it (several times faster), else the pure-Python one.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_text(text: str, *, source: str, base: Traversable | None) -> Descriptor:
    try:
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "$"
        raise DescriptorError([Problem(where, f"not valid YAML: {exc}")], subject=source) from None
    return parse_descriptor(data, source=source, base=base)


def _properties(items: Sequence[Mapping[str, Any]]) -> tuple[Property, ...]:
    return tuple(
        Property(
            name=p["name"],
            label=p["label"],
            type=p["type"],
            description=p["description"],
            required=bool(p.get("required", False)),
            secret=bool(p.get("secret", False)),
            raw=p,
        )
        for p in items
    )


def _describe(error: jsonschema.ValidationError) -> str:
    message = error.message
    return message if len(message) <= 200 else message[:197] + "..."


def _check_unique_names(data: Mapping[str, Any], source: str) -> None:
    problems: list[Problem] = []

    def unique(items: Sequence[Mapping[str, Any]], path: str) -> None:
        seen: set[str] = set()
        for index, item in enumerate(items):
            if item["name"] in seen:
                problems.append(
                    Problem(f"{path}[{index}].name", f"duplicate name {item['name']!r}")
                )
            seen.add(item["name"])

    unique(data["actions"], "$.actions")
    unique(data.get("triggers", []), "$.triggers")
    for i, trigger in enumerate(data.get("triggers", [])):
        unique(trigger.get("properties", []), f"$.triggers[{i}].properties")
        unique(trigger["output"]["properties"], f"$.triggers[{i}].output.properties")
    clash = {t["name"] for t in data.get("triggers", [])} & {a["name"] for a in data["actions"]}
    for name in sorted(clash):
        problems.append(Problem("$.triggers", f"{name!r} names both an action and a trigger"))
    unique(data["connection"]["authorizations"], "$.connection.authorizations")
    for i, action in enumerate(data["actions"]):
        unique(action["properties"], f"$.actions[{i}].properties")
        unique(action["output"]["properties"], f"$.actions[{i}].output.properties")
    for i, auth in enumerate(data["connection"]["authorizations"]):
        unique(auth["properties"], f"$.connection.authorizations[{i}].properties")
    if problems:
        raise DescriptorError(problems, subject=source)
