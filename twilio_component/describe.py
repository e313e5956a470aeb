"""``describe``: a component as editors and docs see it (palette entry, JSON Schemas, page)."""

from __future__ import annotations

from typing import Any

from twilio_component.component import Component
from twilio_component.descriptor import Descriptor
from twilio_component.host import Host
from twilio_component.palette import palette_entry
from twilio_component.reference_page import reference_page
from twilio_component.schemas import descriptor_schemas

__all__ = ["FORMATS", "OWN_COMPONENT", "json_schemas", "palette_entry", "reference_page", "render"]

#: What ``render`` can produce.
FORMATS = ("palette", "jsonschema", "markdown")
#: The component this package ships, described when no other is named.
OWN_COMPONENT = "twilio"


def json_schemas(descriptor: Descriptor) -> dict[str, Any]:
    """The component's JSON Schemas (draft 2020-12), exactly those the host validates with.

    ``connection`` maps each authorization to its schema; ``actions`` maps each action to its
    ``parameters`` and ``output`` schemas.
    """
    return {
        "name": descriptor.name,
        "title": descriptor.title,
        "description": descriptor.description,
        "version": descriptor.version,
        **descriptor_schemas(descriptor),
    }


def render(
    format: str,
    host: Host | None = None,
    *,
    component: str = OWN_COMPONENT,
) -> str | dict[str, Any]:
    """One component described in ``format``: "palette" and "jsonschema" give a JSON document
    (a dict), "markdown" the reference page (a str).

    ``component`` is a component name (``twilio``) or type (``twilio/v1``); the host is
    ``Host.load()`` when not given. One component is described at a time, so the output is
    always one object or one page whatever else is installed; ``Host.palette()`` lists every
    registered component's entry.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; expected one of: {', '.join(FORMATS)}")
    if host is None:
        with Host.load() as loaded:
            descriptor = find_component(loaded, component).descriptor
    else:
        descriptor = find_component(host, component).descriptor
    if format == "palette":
        return palette_entry(descriptor)
    if format == "jsonschema":
        return json_schemas(descriptor)
    return reference_page(descriptor)


def find_component(host: Host, name: str) -> Component:
    """The registered component called ``name`` (or of type ``name``); KeyError if none is."""
    for candidate in host.components:
        descriptor = candidate.descriptor
        if name in (descriptor.name, descriptor.type):
            return candidate
    names = ", ".join(c.descriptor.type for c in host.components) or "none"
    raise KeyError(f"no registered component {name!r}; registered: {names}")
