"""The registry: every component's step and trigger types, compiled once when a host loads
(validators, handlers, connections), and plugins found through pluggy."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy

from twilio_component import hookspecs
from twilio_component.component import Component, Connection
from twilio_component.descriptor import Action, Authorization, Trigger
from twilio_component.errors import (
    ComponentError,
    ConnectionConfigError,
    Problem,
    StepError,
)
from twilio_component.schemas import (
    connection_schema,
    output_schema,
    parameters_schema,
    rule_schema,
)
from twilio_component.validation import ObjectValidator

if TYPE_CHECKING:
    from twilio_component.triggers.protocol import TriggerHandler

__all__ = ["DIRECT", "Registry", "StepEntry", "TriggerEntry", "discover"]

#: What a component is called when it was given to Host() directly rather than by a plugin.
DIRECT = "<direct>"
#: Connections remembered as checked, at most (the memory is emptied when full).
CHECKED_CONNECTIONS = 64


@dataclass(frozen=True, slots=True)
class StepEntry:
    """Everything needed to run one step type, compiled once at load."""

    type: str
    component: Component
    plugin: str
    action: Action
    parameters: ObjectValidator
    output: ObjectValidator


@dataclass(frozen=True, slots=True)
class TriggerEntry:
    """Everything needed to receive one trigger type, compiled once at load."""

    type: str
    component: Component
    plugin: str
    trigger: Trigger
    handler: TriggerHandler
    parameters: ObjectValidator


class Registry:
    """Every registered component and what runs each of its step and trigger types."""

    def __init__(self) -> None:
        self.components: dict[str, Component] = {}
        self.plugins: dict[str, str] = {}
        self.entries: dict[str, StepEntry] = {}
        self.connections: dict[str, tuple[tuple[Authorization, ObjectValidator], ...]] = {}
        self.triggers: dict[str, TriggerEntry] = {}
        self._checked: dict[tuple[Any, ...], Connection] = {}

    def add(self, component: Component, plugin: str) -> None:
        """Compile and register ``component``; ComponentError when it cannot run as declared."""
        if not isinstance(component, Component):
            raise ComponentError(
                f"plugin {plugin} registered {component!r}, which is not a Component"
            )
        descriptor = component.descriptor
        owner = f"component {descriptor.type} (plugin {plugin})"
        if descriptor.type in self.components:
            raise ComponentError(
                f"{owner} is registered twice; plugin {self.plugins[descriptor.type]} "
                "registered it first"
            )
        missing = [a.name for a in descriptor.actions if a.name not in component.handlers]
        if missing:
            raise ComponentError(
                f"{owner} has no handler for action(s) {', '.join(missing)}; pass them in "
                "Component(handlers={...})"
            )
        elements: tuple[Action | Trigger, ...] = (*descriptor.actions, *descriptor.triggers)
        for action in elements:
            unknown = sorted(_shapes(action.output) - set(component.shapes))
            if unknown:
                raise ComponentError(
                    f"{owner}: the output of {action.name} names shape(s) "
                    f"{', '.join(unknown)} that the component does not declare in "
                    "Component(shapes=...)"
                )
        self.components[descriptor.type] = component
        self.plugins[descriptor.type] = plugin
        self.connections[descriptor.type] = tuple(
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
                        f"{owner}: action {action.name} has a {rule['rule']!r} rule that "
                        "nothing checks; register a check for it in Component(rules=...)"
                    )
            self.entries[step_type] = StepEntry(
                type=step_type,
                component=component,
                plugin=plugin,
                action=action,
                parameters=ObjectValidator(
                    parameters_schema(action), action.properties, owner=action.name, checks=checks
                ),
                output=ObjectValidator(output_schema(action), (), owner=f"{action.name} output"),
            )
        unreceived = [t.name for t in descriptor.triggers if t.name not in component.triggers]
        if unreceived:
            raise ComponentError(
                f"{owner} has no handler for trigger(s) {', '.join(unreceived)}; pass them in "
                "Component(triggers={...})"
            )
        for trigger in descriptor.triggers:
            trigger_type = f"{descriptor.type}/{trigger.name}"
            self.triggers[trigger_type] = TriggerEntry(
                type=trigger_type,
                component=component,
                plugin=plugin,
                trigger=trigger,
                handler=component.triggers[trigger.name],
                parameters=ObjectValidator(
                    parameters_schema(trigger), trigger.properties, owner=trigger.name
                ),
            )

    def trigger_entry(self, trigger_type: object) -> TriggerEntry:
        """What receives ``trigger_type``; StepError naming what is available when nothing does."""
        entry = self.triggers.get(trigger_type) if isinstance(trigger_type, str) else None
        if entry is None:
            available = ", ".join(self.triggers) or "none"
            raise StepError(
                f"trigger type {trigger_type!r} is not one this host receives; "
                f"available: {available}"
            )
        return entry

    def entry(self, step_type: object) -> StepEntry:
        """What runs ``step_type``; StepError saying why nothing does."""
        if not isinstance(step_type, str):
            raise StepError(
                f"step type must be a string like 'component/v1/action', not {step_type!r}"
            )
        entry = self.entries.get(step_type)
        if entry is not None:
            return entry
        available = ", ".join(self.entries) or "none"
        parts = step_type.split("/")
        if len(parts) != 3 or not parts[1].startswith("v"):
            why = "is not of the form component/vVERSION/action"
        elif f"{parts[0]}/{parts[1]}" in self.components:
            why = f"has no action {parts[2]!r}"
        elif any(t.startswith(parts[0] + "/") for t in self.components):
            why = f"names a version of {parts[0]!r} that is not installed"
        else:
            why = f"names no installed component {parts[0]!r}"
        raise StepError(f"step type {step_type!r} {why}; available: {available}")

    def checked_connection(self, component: Component, connection: object) -> Connection:
        """``connection`` checked against the component's authorizations (the one it names,
        else the first whose required properties it has); ConnectionConfigError if invalid.
        A connection of text values checked once is not checked again (a campaign sends
        thousands of steps on one)."""
        if not isinstance(connection, Mapping):
            raise ConnectionConfigError([Problem("connection", "must be an object")])
        known = None
        if all(isinstance(v, str) for v in connection.values()):
            known = (component.descriptor.type, *sorted(connection.items()))
            found = self._checked.get(known)
            if found is not None:
                return found
        checked = self._check_connection(component, connection)
        if known is not None:
            if len(self._checked) >= CHECKED_CONNECTIONS:
                self._checked.clear()
            self._checked[known] = checked
        return checked

    def _check_connection(self, component: Component, connection: Mapping[str, Any]) -> Connection:
        choices = self.connections[component.descriptor.type]
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


def discover(
    plugins: Iterable[object] = (), *, entry_points: bool = True
) -> list[tuple[str, Component]]:
    """Every component registered by entry-point plugins and ``plugins``, with its plugin's
    name. A plugin whose hooks are misspelt or malformed, or whose registration fails, is
    refused with a ComponentError naming it."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    try:
        if entry_points:
            manager.load_setuptools_entrypoints(hookspecs.ENTRY_POINT_GROUP)
        for plugin in plugins:
            manager.register(plugin)
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        raise ComponentError(
            f"plugin {_plugin_name(manager, error.plugin)} cannot be used: {error}; "
            f"hooks it may implement: {', '.join(hookspecs.HOOKS)}"
        ) from None
    found: list[tuple[str, Component]] = []
    for impl in reversed(manager.hook.register_components.get_hookimpls()):
        name = _plugin_name(manager, impl.plugin)
        register = _registrar(name, found)
        try:
            impl.function(**dict.fromkeys(impl.argnames, register))
        except ComponentError:
            raise
        except Exception as error:
            raise ComponentError(
                f"plugin {name} failed while registering its components: "
                f"{type(error).__name__}: {error}"
            ) from error
    return found


def _plugin_name(manager: pluggy.PluginManager, plugin: object) -> str:
    name = manager.get_name(plugin) if plugin is not None else None
    if name is None or name.isdigit():  # registered without a name: say what it is
        name = getattr(plugin, "__name__", None) or type(plugin).__qualname__
    return name


def _registrar(plugin: str, found: list[tuple[str, Component]]) -> Callable[[Component], None]:
    def register(component: Component) -> None:
        found.append((plugin, component))

    return register


def _shapes(spec: Mapping[str, Any]) -> set[str]:
    """Every ``shape`` named in an output property tree."""
    named = {spec["shape"]} if "shape" in spec else set()
    for child in spec.get("properties", ()):
        named |= _shapes(child)
    return named
