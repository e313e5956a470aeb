"""The host: finds components through pluggy, validates steps and runs them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

from twilio_component import hookspecs
from twilio_component.component import Component, Connection, Invocation, Runtime
from twilio_component.descriptor import Action, Authorization, Trigger
from twilio_component.errors import (
    ActionError,
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
from twilio_component.settings import HostSettings
from twilio_component.validation import ObjectValidator

if TYPE_CHECKING:
    from twilio_component.journal.store import Journal
    from twilio_component.triggers.protocol import (
        EventLedger,
        Received,
        TriggerHandler,
        TriggerInvocation,
        WebhookRequest,
    )
    from twilio_component.workflow import WorkflowRun

_T = TypeVar("_T")

#: What a component is called when it was given to Host() directly rather than by a plugin.
DIRECT = "<direct>"


@dataclass(frozen=True, slots=True)
class _Entry:
    """Everything needed to run one step type, compiled once at load."""

    type: str
    component: Component
    plugin: str
    action: Action
    parameters: ObjectValidator
    output: ObjectValidator


@dataclass(frozen=True, slots=True)
class _TriggerEntry:
    """Everything needed to receive one trigger type, compiled once at load."""

    type: str
    component: Component
    plugin: str
    trigger: Trigger
    handler: TriggerHandler
    parameters: ObjectValidator


class Host:
    """Runs workflow steps (``{"type": "twilio/v1/sendSMS", "parameters": {...}}``).

    Safe to share between threads: the registry is built once at load and never changes, and
    the resources handlers share (HTTP connection pools) are thread-safe.
    """

    def __init__(
        self,
        components: Iterable[Component | tuple[str, Component]],
        settings: HostSettings | None = None,
    ) -> None:
        """A host running ``components`` (each alone, or with the name of its plugin)."""
        self.settings = settings or HostSettings()
        self.runtime = Runtime(self.settings)
        self._components: dict[str, Component] = {}
        self._plugins: dict[str, str] = {}
        self._entries: dict[str, _Entry] = {}
        self._connections: dict[str, tuple[tuple[Authorization, ObjectValidator], ...]] = {}
        self._triggers: dict[str, _TriggerEntry] = {}
        from twilio_component.triggers.ledger import MemoryLedger

        #: Which trigger events ran (each runs at most once): in memory, or in the journal
        #: (``settings.journal``) so that a restart does not run them again.
        self.ledger: EventLedger = MemoryLedger()
        if self.settings.journal is not None:
            from twilio_component.journal.store import JournalLedger

            self.ledger = JournalLedger(self.journal)
        for item in components:
            plugin, component = item if isinstance(item, tuple) else (DIRECT, item)
            self._add(component, plugin)

    @classmethod
    def load(
        cls,
        settings: HostSettings | None = None,
        *,
        plugins: Iterable[object] = (),
        entry_points: bool = True,
    ) -> Host:
        """A host with every component registered by entry-point plugins and ``plugins``.

        A plugin whose hooks are misspelt or malformed, or whose registration fails, is refused
        with a ComponentError naming it.
        """
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
        return cls(found, settings)

    # -- registry ---------------------------------------------------------------------------

    def _add(self, component: Component, plugin: str) -> None:
        if not isinstance(component, Component):
            raise ComponentError(
                f"plugin {plugin} registered {component!r}, which is not a Component"
            )
        descriptor = component.descriptor
        owner = f"component {descriptor.type} (plugin {plugin})"
        if descriptor.type in self._components:
            raise ComponentError(
                f"{owner} is registered twice; plugin {self._plugins[descriptor.type]} "
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
        self._components[descriptor.type] = component
        self._plugins[descriptor.type] = plugin
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
                        f"{owner}: action {action.name} has a {rule['rule']!r} rule that "
                        "nothing checks; register a check for it in Component(rules=...)"
                    )
            self._entries[step_type] = _Entry(
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
            self._triggers[trigger_type] = _TriggerEntry(
                type=trigger_type,
                component=component,
                plugin=plugin,
                trigger=trigger,
                handler=component.triggers[trigger.name],
                parameters=ObjectValidator(
                    parameters_schema(trigger), trigger.properties, owner=trigger.name
                ),
            )

    @property
    def components(self) -> tuple[Component, ...]:
        """The registered components, in registration order."""
        return tuple(self._components.values())

    def plugin_of(self, component_type: str) -> str:
        """The name of the plugin that registered a component (``twilio/v1`` → ``twilio``)."""
        return self._plugins[component_type]

    def component_of(self, step_type: str) -> Component:
        """The component that runs a step type; StepError if none does."""
        return self._entry(step_type).component

    def palette(self) -> list[dict[str, Any]]:
        """The palette entry of every registered component, for an editor embedding the host."""
        from twilio_component.palette import palette_entry

        return [palette_entry(component.descriptor) for component in self.components]

    @property
    def step_types(self) -> tuple[str, ...]:
        """Every step type this host can run, e.g. ``twilio/v1/sendSMS``."""
        return tuple(self._entries)

    @property
    def trigger_types(self) -> tuple[str, ...]:
        """Every trigger type this host can receive, e.g. ``twilio/v1/newIncomingSMS``."""
        return tuple(self._triggers)

    def trigger_of(self, trigger_type: object) -> Trigger:
        """The descriptor's trigger for a trigger type; StepError if no component has it."""
        return self._trigger_entry(trigger_type).trigger

    def component_of_trigger(self, trigger_type: str) -> Component:
        """The component that receives a trigger type; StepError if none does."""
        return self._trigger_entry(trigger_type).component

    def check_trigger(self, trigger_type: str, parameters: object) -> list[Problem]:
        """Every problem with a trigger's parameters (an unknown type raises StepError)."""
        entry = self._trigger_entry(trigger_type)
        if not isinstance(parameters, Mapping):
            return [Problem("", "must be an object")]
        return entry.parameters.problems(parameters)

    def trigger_events(self) -> dict[str, Mapping[str, Any]]:
        """Each trigger type's event definition (the descriptor's output tree)."""
        return {t: entry.trigger.output for t, entry in self._triggers.items()}

    def _trigger_entry(self, trigger_type: object) -> _TriggerEntry:
        entry = self._triggers.get(trigger_type) if isinstance(trigger_type, str) else None
        if entry is None:
            available = ", ".join(self._triggers) or "none"
            raise StepError(
                f"trigger type {trigger_type!r} is not one this host receives; "
                f"available: {available}"
            )
        return entry

    def _entry(self, step_type: object) -> _Entry:
        if not isinstance(step_type, str):
            raise StepError(
                f"step type must be a string like 'component/v1/action', not {step_type!r}"
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

    def execute(
        self, step: Mapping[str, Any], *, connection: Mapping[str, Any], key: str | None = None
    ) -> dict[str, Any]:
        """Validate and run one step; return its output object.

        Raises ParameterError or ConnectionConfigError (nothing sent), a ServiceError of the
        component (e.g. a TwilioError), or ActionError when its handler fails unexpectedly.

        With ``key`` (and ``settings.journal``) the step is effectively-once: the same key again
        returns the recorded output without sending (or raises RecordedRefusal); with other
        parameters it raises KeyConflictError; an attempt a crash cut short is looked up with
        the component's reconciler before anything is sent, and held (KeyHeldError) when
        that cannot tell.
        """
        entry, parameters = self._parse(step)
        problems = entry.parameters.problems(parameters)
        if problems:
            raise ParameterError(problems, subject=entry.type)
        checked = self._connection(entry, connection)
        del connection  # keep the raw secret out of this frame's locals from here on
        if key is None:
            return self._run(entry, parameters, checked)
        from twilio_component.journal.keyed import run_once

        return run_once(
            self.journal,
            key,
            step_type=entry.type,
            parameters=parameters,
            send=lambda: self._run(entry, parameters, checked),
            look_up=self._look_up(entry, parameters, checked),
        )

    def _look_up(
        self, entry: _Entry, parameters: Mapping[str, Any], checked: Connection
    ) -> Callable[[datetime], dict[str, Any] | None] | None:
        """How to find an earlier attempt of this step in the service's log (None: no way)."""
        reconciler = entry.component.reconcilers.get(entry.action.name)
        if reconciler is None:
            return None
        invocation = Invocation(entry.action, parameters, checked, self.runtime)
        return lambda attempted_at: reconciler(invocation, attempted_at)

    @property
    def journal(self) -> Journal:
        """The journal of ``settings.journal``, opened once; StepError when none is set."""
        path = self.settings.journal
        if path is None:
            raise StepError(
                "a keyed step needs a journal: Settings(journal='steps.db') in Python, "
                "--journal PATH on the command line"
            )
        from twilio_component.journal.store import open_journal

        return self.runtime.shared("journal", lambda: open_journal(path))

    def _run(
        self, entry: _Entry, parameters: Mapping[str, Any], checked: Connection
    ) -> dict[str, Any]:
        handler = entry.component.handlers[entry.action.name]
        try:
            output = handler(Invocation(entry.action, parameters, checked, self.runtime))
        except ComponentError:
            raise
        except Exception as error:
            failure: ActionError | None = ActionError(
                entry.type, entry.plugin, type(error).__name__, checked.mask(str(error))
            )
        else:
            failure = None
        if failure is not None:
            raise failure  # outside the handler: no traceback chain can carry the connection
        if self.settings.strict_output:
            wrong = entry.output.problems(output)
            if wrong:
                raise OutputError(
                    entry.type, output, wrong, receipt=self.receipt(entry.type, output)
                )
        return output

    # -- triggers ---------------------------------------------------------------------------

    def receive(
        self,
        trigger_type: str,
        request: WebhookRequest,
        *,
        connection: Mapping[str, Any],
        parameters: Mapping[str, Any] | None = None,
    ) -> Received:
        """Answer one webhook request for a trigger type and return the new events it carries.

        ``request.url`` must be the public URL the service called (signatures cover it). A
        request that is not genuine gets its refusal (403) and no events; an event already
        received, or older than one already emitted in its sequence, is acknowledged and not
        emitted again (``self.ledger`` remembers them).
        """
        from twilio_component.triggers.ledger import settle

        entry, invocation = self._trigger_invocation(
            trigger_type, parameters, connection, request.url
        )
        del connection
        reception = self._call(
            entry, invocation, lambda: entry.handler.receive(request, invocation)
        )
        return settle(entry.type, reception, self.ledger)

    def enable_trigger(
        self,
        trigger_type: str,
        parameters: Mapping[str, Any],
        *,
        connection: Mapping[str, Any],
        webhook_url: str,
        take_over: bool = False,
    ) -> dict[str, Any]:
        """Point the service at ``webhook_url`` for this trigger; return what disabling needs.

        A dynamic webhook already set to another URL is refused (a ComponentError saying what
        is there) unless ``take_over``.
        """
        entry, invocation = self._trigger_invocation(
            trigger_type, parameters, connection, webhook_url
        )
        del connection
        return self._call(
            entry, invocation, lambda: entry.handler.enable(invocation, take_over=take_over)
        )

    def disable_trigger(
        self,
        trigger_type: str,
        parameters: Mapping[str, Any],
        *,
        connection: Mapping[str, Any],
        webhook_url: str,
        state: Mapping[str, Any],
    ) -> None:
        """Put back what ``enable_trigger`` replaced (``state`` is what it returned)."""
        entry, invocation = self._trigger_invocation(
            trigger_type, parameters, connection, webhook_url
        )
        del connection
        self._call(entry, invocation, lambda: entry.handler.disable(invocation, state))

    def _trigger_invocation(
        self,
        trigger_type: str,
        parameters: Mapping[str, Any] | None,
        connection: Mapping[str, Any],
        webhook_url: str,
    ) -> tuple[_TriggerEntry, TriggerInvocation]:
        from twilio_component.triggers.protocol import TriggerInvocation

        entry = self._trigger_entry(trigger_type)
        if parameters is None:  # receiving needs only the connection; its parameters are
            parameters = {}  # what the webhook was enabled with, when the caller knows them
        else:
            problems = entry.parameters.problems(parameters)
            if problems:
                raise ParameterError(problems, subject=entry.type)
        checked = self._checked_connection(entry.component, connection)
        invocation = TriggerInvocation(
            entry.trigger, parameters, checked, self.runtime, webhook_url
        )
        return entry, invocation

    def _call(
        self, entry: _TriggerEntry, invocation: TriggerInvocation, call: Callable[[], _T]
    ) -> _T:
        try:
            return call()
        except ComponentError:
            raise
        except Exception as error:
            failure = ActionError(
                entry.type,
                entry.plugin,
                type(error).__name__,
                invocation.connection.mask(str(error)),
            )
        raise failure  # outside the handler: no traceback chain can carry the connection

    def run(
        self,
        workflow: Mapping[str, Any],
        *,
        connections: Mapping[str, Mapping[str, Any]],
        inputs: Mapping[str, Any] | None = None,
        run_id: str | None = None,
    ) -> WorkflowRun:
        """Run a workflow file's tasks in order; each task uses its component's connection.

        ``connections`` maps a component's name (``twilio``) or type (``twilio/v1``) to its
        connection. Every task's literal parameters, references and the output fields they
        name are checked before the first task runs: WorkflowError (nothing ran) lists every
        problem; StepError when a connection is missing; WorkflowFailed when a task fails after
        others ran. With ``run_id`` (and ``settings.journal``) each task runs at most once under
        that ID: running it again returns the recorded outputs and sends only the rest.
        """
        from twilio_component.workflow import Workflow

        checked = Workflow(workflow, self)
        if run_id is not None and self.settings.journal is None:
            raise StepError(
                "a resumable run (run_id) needs a journal: Settings(journal='steps.db') in "
                "Python, --journal PATH on the command line"
            )
        execute = self.executor(connections, checked.step_types)
        return checked.run(execute, inputs=inputs, run_id=run_id)

    def executor(
        self, connections: Mapping[str, Mapping[str, Any]], step_types: Iterable[str] = ()
    ) -> Callable[[Mapping[str, Any], str | None], dict[str, Any]]:
        """Runs a step (under a key or none) with its component's connection from
        ``connections`` (by component name or type); StepError at once when one of
        ``step_types`` has none."""
        missing = sorted(
            {
                self.component_of(step_type).descriptor.name
                for step_type in step_types
                if self._connection_for(self.component_of(step_type), connections) is None
            }
        )
        if missing:
            raise StepError(f"no connection given for component(s) {', '.join(missing)}")

        def execute(step: Mapping[str, Any], key: str | None) -> dict[str, Any]:
            component = self.component_of(step["type"])
            given = self._connection_for(component, connections)
            return self.execute(step, connection=given or {}, key=key)

        return execute

    def receipt(self, step_type: str, output: Mapping[str, Any]) -> str | None:
        """What names the thing a step's output (or a trigger's event) is about, a message's
        ID say, when its component tells (``Component.receipt``)."""
        if step_type in self._triggers:
            tell = self._triggers[step_type].component.receipt
        else:
            tell = self.component_of(step_type).receipt
        return tell(output) if tell is not None and isinstance(output, Mapping) else None

    @staticmethod
    def _connection_for(
        component: Component, connections: Mapping[str, Mapping[str, Any]]
    ) -> Mapping[str, Any] | None:
        descriptor = component.descriptor
        return connections.get(descriptor.name, connections.get(descriptor.type))

    def output_definition(self, step_type: str) -> Mapping[str, Any] | None:
        """The descriptor's output tree of a step type (None when the host cannot run it)."""
        entry = self._entries.get(step_type)
        return entry.action.output if entry is not None else None

    def _parse(self, step: object) -> tuple[_Entry, Mapping[str, Any]]:
        if not isinstance(step, Mapping):
            raise StepError("a step must be an object with 'type' and 'parameters'")
        entry = self._entry(step.get("type"))
        parameters = step.get("parameters", {})
        if not isinstance(parameters, Mapping):
            raise ParameterError([Problem("parameters", "must be an object")], subject=entry.type)
        return entry, parameters

    def _connection(self, entry: _Entry, connection: object) -> Connection:
        return self._checked_connection(entry.component, connection)

    def _checked_connection(self, component: Component, connection: object) -> Connection:
        choices = self._connections[component.descriptor.type]
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
