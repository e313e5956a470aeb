"""``describe``: a component as editors and docs see it (palette entry, JSON Schemas, page)."""

from __future__ import annotations

from typing import Any

from twilio_component.component import Component
from twilio_component.descriptor import Descriptor
from twilio_component.host import Host
from twilio_component.palette import palette_entry
from twilio_component.reference_page import reference_page
from twilio_component.schemas import descriptor_schemas

__all__ = ["FORMATS", "find_component", "json_schemas", "palette_entry", "reference_page", "render"]

#: What ``render`` can produce.
FORMATS = ("palette", "jsonschema", "markdown")


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
    component: str | None = None,
) -> str | dict[str, Any] | list[dict[str, Any]]:
    """Components described in ``format``: "palette" and "jsonschema" give a JSON document
    (a dict), "markdown" the reference page (a str).

    ``component`` is a component name (``twilio``) or type (``twilio/v1``): that one component,
    one object or one page whatever else is installed. ``None`` (the default) describes every
    registered component: the one document when only one is, else a list of them (JSON) or
    their pages one after another (markdown). The host is ``Host.load()`` when not given.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; expected one of: {', '.join(FORMATS)}")
    if host is None:
        with Host.load() as loaded:
            return render(format, loaded, component=component)
    if component is not None:
        return _describe(format, find_component(host, component).descriptor)
    documents = [_describe(format, c.descriptor) for c in host.components]
    if len(documents) == 1:
        return documents[0]
    if format == "markdown":
        return "\n".join(str(page) for page in documents)
    return [document for document in documents if isinstance(document, dict)]


def _describe(format: str, descriptor: Descriptor) -> str | dict[str, Any]:
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
