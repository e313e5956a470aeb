"""Registers the acme/v1 component through the host's public hook."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.resources import files
from typing import Any

from twilio_component import Component, Invocation, Problem, hookimpl, load_descriptor

DESCRIPTOR = load_descriptor(files("acme_component") / "component.yaml")


def no_shouting(parameters: Mapping[str, Any], rule: Mapping[str, Any]) -> list[Problem]:
    """A rule of this component's own: text must not be all capitals."""
    return [
        Problem(name, "must not be all capitals")
        for name in rule["parameters"]
        if str(parameters.get(name, "")).isupper()
    ]


def ping(invocation: Invocation) -> dict[str, Any]:
    """Pretend to post; the output says where."""
    if invocation.parameters["channel"] == "#broken":
        raise RuntimeError(f"channel refused with token {invocation.connection['token']}")
    return {"posted": f"{invocation.parameters['channel']}: {invocation.parameters['text']}"}


@hookimpl
def register_components(register: Callable[[Component], None]) -> None:
    """Register acme/v1."""
    register(
        Component(
            DESCRIPTOR, handlers={"ping": ping}, rules={"no_shouting": no_shouting}, shapes={"echo"}
        )
    )
