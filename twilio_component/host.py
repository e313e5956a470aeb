"""The host: finds components through pluggy, validates steps and runs them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pluggy

from twilio_component import hookspecs
from twilio_component.component import Component, Connection, Invocation, Runtime
from twilio_component.descriptor import Action, Authorization
from twilio_component.errors import (
    ComponentError,
    ConnectionConfigError,
    OutputError,
    ParameterError,
    Problem,
    StepError,
)
from twilio_component.schemas import (
    connection_schema,
    output_schema,
    parameters_schema,
    rule_schema,
)
from twilio_component.settings import Settings
from twilio_component.validation import ObjectValidator


@dataclass(frozen=True, slots=True)
class _Entry:
    """Everything needed to run one step type, compiled once at load."""

    type: str
    component: Component
    action: Action
    parameters: ObjectValidator
    output: ObjectValidator


class Host:
    """Runs workflow steps (``{"type": "twilio/v1/sendSMS", "parameters": {...}}``).

    Safe to share between threads: the registry is built once at load and never changes, and
    the resources handlers share (HTTP connection pools) are thread-safe.
    """

    def __init__(self, components: Iterable[Component], settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.runtime = Runtime(self.settings)
        self._components: dict[str, Component] = {}
        self._entries: dict[str, _Entry] = {}
        self._connections: dict[str, tuple[tuple[Authorization, ObjectValidator], ...]] = {}
        for component in components:
            self._add(component)

    @classmethod
    def load(
        cls,
        settings: Settings | None = None,
        *,
        plugins: Iterable[object] = (),
        entry_points: bool = True,
    ) -> Host:
        """A host with every component registered by entry-point plugins and ``plugins``."""
        manager = pluggy.PluginManager(hookspecs.PROJECT)
        manager.add_hookspecs(hookspecs)
        if entry_points:
            manager.load_setuptools_entrypoints(hookspecs.ENTRY_POINT_GROUP)
        for plugin in plugins:
            manager.register(plugin)
        found: list[Component] = []
        manager.hook.register_components(register=found.append)
        return cls(found, settings)

    # -- registry ---------------------------------------------------------------------------

    def _add(self, component: Component) -> None:
        descriptor = component.descriptor
        if descriptor.type in self._components:
            raise ComponentError(f"component {descriptor.type} is registered twice")
        missing = [a.name for a in descriptor.actions if a.name not in component.handlers]
        if missing:
            raise ComponentError(
                f"component {descriptor.type} has no handler for action(s) {', '.join(missing)}"
            )
        self._components[descriptor.type] = component
        self._connections[descriptor.type] = tuple(
            (
                auth,
                ObjectValidator(
                    connection_schema(auth), auth.properties, owner="connection", show_values=False
                ),
            )
            for auth in descriptor.authorizations
        )
        for action in descriptor.actions:
            step_type = f"{descriptor.type}/{action.name}"
            checks = []
            for rule in action.rules:
                check = component.rules.get(rule["rule"])
                if check is not None:
                    checks.append((rule, check))
                elif not rule_schema(rule):
                    # Neither JSON Schema nor code would check it: refuse rather than skip.
                    raise ComponentError(
                        f"component {descriptor.type}: action {action.name} has a "
                        f"{rule['rule']!r} rule that nothing checks; register a check for it "
                        "in Component(rules=...)"
                    )
            self._entries[step_type] = _Entry(
                type=step_type,
                component=component,
                action=action,
                parameters=ObjectValidator(
                    parameters_schema(action), action.properties, owner=action.name, checks=checks
                ),
                output=ObjectValidator(output_schema(action), (), owner=f"{action.name} output"),
            )

    @property
    def components(self) -> tuple[Component, ...]:
        """The registered components, in registration order."""
        return tuple(self._components.values())

    def palette(self) -> list[dict[str, Any]]:
        """The palette entry of every registered component, for an editor embedding the host."""
        from twilio_component.palette import palette_entry

        return [palette_entry(component.descriptor) for component in self.components]

    @property
    def step_types(self) -> tuple[str, ...]:
        """Every step type this host can run, e.g. ``twilio/v1/sendSMS``."""
        return tuple(self._entries)

    def _entry(self, step_type: object) -> _Entry:
        if not isinstance(step_type, str):
            raise StepError(
                f"step type must be a string like 'twilio/v1/sendSMS', not {step_type!r}"
            )
        entry = self._entries.get(step_type)
        if entry is not None:
            return entry
        available = ", ".join(self._entries) or "none"
        parts = step_type.split("/")
        if len(parts) != 3 or not parts[1].startswith("v"):
            why = "is not of the form component/vVERSION/action"
        elif f"{parts[0]}/{parts[1]}" in self._components:
            why = f"has no action {parts[2]!r}"
        elif any(t.startswith(parts[0] + "/") for t in self._components):
            why = f"names a version of {parts[0]!r} that is not installed"
        else:
            why = f"names no installed component {parts[0]!r}"
        raise StepError(f"step type {step_type!r} {why}; available: {available}")

    # -- running ----------------------------------------------------------------------------

    def check_step(self, step: object) -> list[Problem]:
        """Every problem with a step's parameters (an unknown type raises StepError)."""
        entry, parameters = self._parse(step)
        return entry.parameters.problems(parameters)

    def execute(self, step: Mapping[str, Any], *, connection: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and run one step; return its output object.

        Raises ParameterError or ConnectionConfigError (nothing sent), or a TwilioError.
        """
        entry, parameters = self._parse(step)
        problems = entry.parameters.problems(parameters)
        if problems:
            raise ParameterError(problems, subject=entry.type)
        checked = self._connection(entry, connection)
        del connection  # keep the raw secret out of this frame's locals from here on
        handler = entry.component.handlers[entry.action.name]
        output = handler(Invocation(entry.action, parameters, checked, self.runtime))
        if self.settings.strict_output:
            wrong = entry.output.problems(output)
            if wrong:
                raise OutputError(entry.type, output, wrong)
        return output

    def _parse(self, step: object) -> tuple[_Entry, Mapping[str, Any]]:
        if not isinstance(step, Mapping):
            raise StepError("a step must be an object with 'type' and 'parameters'")
        entry = self._entry(step.get("type"))
        parameters = step.get("parameters", {})
        if not isinstance(parameters, Mapping):
            raise ParameterError([Problem("parameters", "must be an object")], subject=entry.type)
        return entry, parameters

    def _connection(self, entry: _Entry, connection: object) -> Connection:
        choices = self._connections[entry.component.descriptor.type]
        if not isinstance(connection, Mapping):
            raise ConnectionConfigError([Problem("connection", "must be an object")])
        values = dict(connection)
        wanted = values.pop("authorization", None)
        if wanted is not None:
            picked = [c for c in choices if c[0].name == wanted]
            if not picked:
                names = ", ".join(a.name for a, _ in choices)
                raise ConnectionConfigError(
                    [Problem("authorization", f"{wanted!r} is not one of: {names}")]
                )
        else:
            picked = [
                c for c in choices if all(p.name in values for p in c[0].properties if p.required)
            ] or [choices[0]]
        auth, validator = picked[0]
        problems = validator.problems(values)
        if problems:
            raise ConnectionConfigError(problems, subject=auth.name)
        secrets = frozenset(p.name for p in auth.properties if p.secret)
        return Connection(auth.name, values, secrets)

    def close(self) -> None:
        """Release pooled connections."""
        self.runtime.close()

    def __enter__(self) -> Host:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
