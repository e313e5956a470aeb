"""The host: runs steps of the components its registry holds (validated, keyed when asked),
receives their triggers and runs workflows."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from twilio_component.component import Component, Connection, Invocation, Runtime
from twilio_component.descriptor import Trigger
from twilio_component.errors import (
    ActionError,
    ComponentError,
    OutputError,
    ParameterError,
    Problem,
    StepError,
)
from twilio_component.registry import DIRECT, Registry, StepEntry, TriggerEntry, discover
from twilio_component.settings import HostSettings
from twilio_component.validation import text_problems

if TYPE_CHECKING:
    from twilio_component.journal.store import Journal
    from twilio_component.triggers.protocol import (
        Answering,
        EventLedger,
        Received,
        TriggerInvocation,
        WebhookRequest,
    )
    from twilio_component.workflow import WorkflowRun

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class PreparedStep:
    """A checked step bound to its checked connection (``Host.prepare``): ``send`` runs it
    once, ``look_up`` finds an earlier attempt in the service's log (None: no way to)."""

    type: str
    parameters: Mapping[str, Any]
    send: Callable[[], dict[str, Any]]
    look_up: Callable[[datetime], dict[str, Any] | None] | None


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
        self._registry = Registry()
        from twilio_component.triggers.ledger import MemoryLedger

        #: Which trigger events ran (each runs at most once): in memory, or in the journal
        #: (``settings.journal``) so that a restart does not run them again.
        self.ledger: EventLedger = MemoryLedger()
        if self.settings.journal is not None:
            from twilio_component.journal.ledger import JournalLedger

            self.ledger = JournalLedger(self.journal)
        for item in components:
            plugin, component = item if isinstance(item, tuple) else (DIRECT, item)
            self._registry.add(component, plugin)

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
        return cls(discover(plugins, entry_points=entry_points), settings)

    # -- registry ---------------------------------------------------------------------------

    @property
    def components(self) -> tuple[Component, ...]:
        """The registered components, in registration order."""
        return tuple(self._registry.components.values())

    def plugin_of(self, component_type: str) -> str:
        """The name of the plugin that registered a component (``twilio/v1`` → ``twilio``)."""
        return self._registry.plugins[component_type]

    def component_of(self, step_type: object) -> Component:
        """The component that runs a step type; StepError if none does."""
        return self._registry.entry(step_type).component

    def palette(self) -> list[dict[str, Any]]:
        """The palette entry of every registered component, for an editor embedding the host."""
        from twilio_component.palette import palette_entry

        return [palette_entry(component.descriptor) for component in self.components]

    @property
    def step_types(self) -> tuple[str, ...]:
        """Every step type this host can run, e.g. ``twilio/v1/sendSMS``."""
        return tuple(self._registry.entries)

    @property
    def trigger_types(self) -> tuple[str, ...]:
        """Every trigger type this host can receive, e.g. ``twilio/v1/newIncomingSMS``."""
        return tuple(self._registry.triggers)

    def trigger_of(self, trigger_type: object) -> Trigger:
        """The descriptor's trigger for a trigger type; StepError if no component has it."""
        return self._registry.trigger_entry(trigger_type).trigger

    def component_of_trigger(self, trigger_type: str) -> Component:
        """The component that receives a trigger type; StepError if none does."""
        return self._registry.trigger_entry(trigger_type).component

    def check_trigger(self, trigger_type: str, parameters: object) -> list[Problem]:
        """Every problem with a trigger's parameters (an unknown type raises StepError)."""
        entry = self._registry.trigger_entry(trigger_type)
        if not isinstance(parameters, Mapping):
            return [Problem("", "must be an object")]
        return entry.parameters.problems(parameters)

    def answering(self, trigger_type: str) -> Answering | None:
        """The trigger's handler when its webhook is answered with a workflow's ``answer``."""
        from twilio_component.triggers.protocol import Answering

        handler = self._registry.trigger_entry(trigger_type).handler
        return handler if isinstance(handler, Answering) else None

    def trigger_events(self) -> dict[str, Mapping[str, Any]]:
        """Each trigger type's event definition (the descriptor's output tree)."""
        return {t: entry.trigger.output for t, entry in self._registry.triggers.items()}

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
        prepared = self.prepare(step, connection=connection, keyed=key is not None)
        del connection  # keep the raw secret out of this frame's locals from here on
        if key is None:
            return prepared.send()
        from twilio_component.journal.keyed import run_once

        recorded = self.journal.get(key)
        if recorded is None or recorded.unsettled:
            self.guard(self.component_of(prepared.type), prepared.parameters)

        return run_once(
            self.journal,
            key,
            step_type=prepared.type,
            parameters=prepared.parameters,
            send=prepared.send,
            look_up=prepared.look_up,
        )

    def prepare(
        self,
        step: Mapping[str, Any],
        *,
        connection: Mapping[str, Any],
        keyed: bool = False,
        checked: bool = False,
    ) -> PreparedStep:
        """Check a step and its connection, nothing sent: ParameterError or
        ConnectionConfigError, else the step ready to send (a ``keyed`` one's parameters must
        also be storable as text in the journal). ``checked``: the caller already checked
        these parameters with ``check_step`` (a campaign's plan): they are not checked again."""
        entry, parameters = self._parse(step)
        problems = [] if checked else entry.parameters.problems(parameters)
        if keyed and not checked and not problems:
            problems = text_problems(parameters)  # the journal keeps them as UTF-8 text
        if problems:
            raise ParameterError(problems, subject=entry.type)
        verified = self._registry.checked_connection(entry.component, connection)
        del connection
        if not keyed:
            self.guard(entry.component, parameters)
        return PreparedStep(
            entry.type,
            parameters,
            lambda: self._run(entry, parameters, verified),
            self._look_up(entry, parameters, verified),
        )

    def guard(self, component: Component, parameters: Mapping[str, Any]) -> None:
        """OptedOutError (nothing sent) when the journal says the step's recipient opted out
        of its sender; nothing to check without a journal or a component that tells opt-outs."""
        traffic, journal = component.traffic, self.settings.journal
        if component.consent is not None and traffic is not None and journal is not None:
            from twilio_component.consent import guard

            guard(self.journal, traffic, parameters)

    def _look_up(
        self, entry: StepEntry, parameters: Mapping[str, Any], checked: Connection
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
        from twilio_component.journal.opener import open_journal

        return self.runtime.shared("journal", lambda: open_journal(path))

    def _run(
        self, entry: StepEntry, parameters: Mapping[str, Any], checked: Connection
    ) -> dict[str, Any]:
        handler = entry.component.handlers[entry.action.name]
        try:
            output = handler(Invocation(entry.action, parameters, checked, self.runtime))
        except ComponentError as error:
            consent, traffic = entry.component.consent, entry.component.traffic
            if consent is not None and traffic is not None and self.settings.journal is not None:
                from twilio_component.consent import learn_refusal

                learn_refusal(self.journal, traffic, consent, parameters, error)
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
        received = settle(entry.type, reception, self.ledger)
        consent = entry.component.consent
        if consent is not None and received.events and self.settings.journal is not None:
            from twilio_component.consent import learn_events

            learn_events(self.journal, consent, entry.trigger.name, received.events)
        return received

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
    ) -> tuple[TriggerEntry, TriggerInvocation]:
        from twilio_component.triggers.protocol import TriggerInvocation

        entry = self._registry.trigger_entry(trigger_type)
        if parameters is None:  # receiving needs only the connection; its parameters are
            parameters = {}  # what the webhook was enabled with, when the caller knows them
        else:
            problems = entry.parameters.problems(parameters)
            if problems:
                raise ParameterError(problems, subject=entry.type)
        checked = self._registry.checked_connection(entry.component, connection)
        invocation = TriggerInvocation(
            entry.trigger, parameters, checked, self.runtime, webhook_url
        )
        return entry, invocation

    def _call(
        self, entry: TriggerEntry, invocation: TriggerInvocation, call: Callable[[], _T]
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
        if step_type in self._registry.triggers:
            tell = self._registry.triggers[step_type].component.receipt
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
        entry = self._registry.entries.get(step_type)
        return entry.action.output if entry is not None else None

    def _parse(self, step: object) -> tuple[StepEntry, Mapping[str, Any]]:
        if not isinstance(step, Mapping):
            raise StepError("a step must be an object with 'type' and 'parameters'")
        entry = self._registry.entry(step.get("type"))
        parameters = step.get("parameters", {})
        if not isinstance(parameters, Mapping):
            raise ParameterError([Problem("parameters", "must be an object")], subject=entry.type)
        return entry, parameters

    def close(self) -> None:
        """Release pooled connections."""
        self.runtime.close()

    def __enter__(self) -> Host:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
