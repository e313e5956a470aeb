"""Agent tools: every action of every registered component as a tool, its schemas and hints
derived from the descriptor, called through the host's checks with keyed sends and a cap."""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twilio_component.errors import ComponentError, ParameterError

if TYPE_CHECKING:
    from twilio_component.component import Component
    from twilio_component.host import Host

__all__ = ["IDEMPOTENCY_KEY", "KEY_PREFIX", "Outcome", "Tool", "Toolbox", "select", "tools_of"]

#: The argument every sending tool takes beside its action's parameters.
IDEMPOTENCY_KEY = "idempotencyKey"
#: How an agent's keys are kept in the journal: apart from the command line's and campaigns'.
KEY_PREFIX = "agent:"
#: The longest idempotency key taken.
KEY_LENGTH = 200

_MAY_HAVE_SENT = "it may have been sent: retry only with the same idempotencyKey"

_KEY_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": KEY_LENGTH,
    "description": "Any text unique to this send (a UUID, or what the send is for, e.g. "
    "'reminder-order-1234'). A call repeated with the same key returns the first call's output "
    "and sends nothing again, so give one whenever a call might be retried.",
}


@dataclass(frozen=True, slots=True)
class Tool:
    """One action as an agent sees it: ``{component}_{action}``, what it is for, its schemas
    and hints (all hints, never promises: the checks are in ``Toolbox.call``)."""

    name: str
    step_type: str
    title: str
    description: str
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any]
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool

    @property
    def sends(self) -> bool:
        """Whether a call may send, create or change something (counted by ``--max-sends``)."""
        return not self.read_only


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one tool call gave: the action's output object, or why there is none."""

    output: dict[str, Any] | None = None
    error: str | None = None

    @property
    def text(self) -> str:
        """The outcome as text for a model: the output as JSON, or the error."""
        if self.error is not None:
            return self.error
        return json.dumps(self.output, ensure_ascii=False)


def tools_of(host: Host, *, keyed: bool) -> list[Tool]:
    """Every registered action as a tool; ``keyed``: calls with the same idempotency key are
    answered from a journal that outlives the server (the idempotent hint)."""
    from twilio_component.describe import json_schemas

    tools = []
    for component in host.components:
        descriptor = component.descriptor
        schemas = json_schemas(descriptor)["actions"]
        for action in descriptor.actions:
            inputs = _schema(schemas[action.name]["parameters"])
            if not action.read_only:
                inputs.setdefault("properties", {})[IDEMPOTENCY_KEY] = dict(_KEY_SCHEMA)
            tools.append(
                Tool(
                    name=f"{descriptor.name}_{action.name}",
                    step_type=f"{descriptor.type}/{action.name}",
                    title=action.title,
                    description=_description(descriptor.title, action.description),
                    input_schema=inputs,
                    output_schema=_schema(schemas[action.name]["output"]),
                    read_only=action.read_only,
                    destructive=action.destructive and not action.read_only,
                    idempotent=action.read_only or keyed,
                    open_world=action.open_world,
                )
            )
    return tools


def select(tools: Sequence[Tool], names: Iterable[str]) -> list[Tool]:
    """The tools named (in the order listed); ValueError naming each unknown name."""
    by_name = {tool.name: tool for tool in tools}
    wanted = list(dict.fromkeys(names))
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        raise ValueError(
            f"no tool {', '.join(map(repr, unknown))}; the tools are: {', '.join(by_name)}"
        )
    return [by_name[name] for name in wanted]


def _schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A tool schema: the host's own, without ``$schema`` (a tool's dialect is 2020-12
    already, and some clients' validators refuse a dialect URI they do not preload)."""
    copied = copy.deepcopy(dict(schema))
    copied.pop("$schema", None)
    return copied


def _description(component: str, action: str) -> str:
    text = action.strip()
    return f"{component}: {text[0].upper()}{text[1:]}." if text else component


class Toolbox:
    """Calls tools: each call's arguments checked by the host (every problem named, nothing
    sent), an idempotency key run once through the journal, and at most ``max_sends`` sends
    per toolbox (0: no cap). Safe to share between threads; errors never carry a secret."""

    def __init__(
        self,
        host: Host,
        tools: Sequence[Tool],
        *,
        connection_of: Callable[[Component], Mapping[str, Any]],
        max_sends: int = 20,
        mask: Callable[[str], str] = lambda text: text,
    ) -> None:
        if max_sends < 0:
            raise ValueError("max_sends must be 0 (no cap) or more")
        self.host = host
        self.tools = tuple(tools)
        self.max_sends = max_sends
        self._by_name = {tool.name: tool for tool in self.tools}
        self._connection_of = connection_of
        self._mask = mask
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._sends = 0

    def tool(self, name: str) -> Tool | None:
        """The tool called ``name``, if this toolbox has it."""
        return self._by_name.get(name)

    @property
    def sends(self) -> int:
        """How many sends were attempted so far (replayed keys and refused calls not counted)."""
        return self._sends

    def call(self, name: str, arguments: Mapping[str, Any] | None) -> Outcome:
        """Run the tool ``name`` with ``arguments``; KeyError when there is no such tool."""
        tool = self._by_name[name]
        parameters = dict(arguments or {})
        key = parameters.pop(IDEMPOTENCY_KEY, None) if tool.sends else None
        if key is not None and not _is_key(key):
            return self._refused(
                tool, f"{IDEMPOTENCY_KEY}: must be text of 1 to {KEY_LENGTH} characters"
            )
        if key is not None and self.host.settings.journal is None:
            return self._refused(tool, f"{IDEMPOTENCY_KEY} needs a journal; nothing was sent")
        step = {"type": tool.step_type, "parameters": parameters}
        problems = self.host.check_step(step)  # before the cap: refused calls are not sends
        if problems:
            return Outcome(
                error=self._mask(_failure(ParameterError(problems, subject=tool.step_type)))
            )
        try:
            component = self.host.component_of(tool.step_type)
            connection = self._connection_of(component)
        except ComponentError as error:
            return Outcome(error=self._mask(_failure(error)))
        except Exception as error:  # a connection that cannot be had: said, nothing sent
            return self._refused(tool, f"{error or type(error).__name__}; nothing was sent")
        if key is None:
            return self._run(tool, step, connection, None)
        scoped = f"{KEY_PREFIX}{_scope(self.host, component, connection)}:{key}"
        with self._key_lock(scoped):  # a concurrent call with this key waits, then replays
            return self._run(tool, step, connection, scoped)

    def _run(
        self,
        tool: Tool,
        step: Mapping[str, Any],
        connection: Mapping[str, Any],
        key: str | None,
    ) -> Outcome:
        """Send a checked step (at most once for ``key``), counted against the cap."""
        counted = tool.sends and not self._recorded(key)
        if counted and not self._reserve():
            return self._refused(
                tool,
                f"this server has made the {self.max_sends} sends it may make (--max-sends); "
                "nothing was sent. Ask the person running it to raise the cap or restart it",
            )
        try:
            output = self.host.execute(step, connection=connection, key=key)
        except ComponentError as error:
            if counted and not error.may_have_sent:
                self._release()
            return Outcome(error=self._mask(_failure(error)))
        except Exception as error:  # a bug below: said, and counted as perhaps sent
            return self._refused(
                tool, f"unexpected {type(error).__name__}: {error} ({_MAY_HAVE_SENT})"
            )
        return Outcome(output=output)

    def _key_lock(self, key: str) -> threading.Lock:
        """The lock of one idempotency key (one per key used by this toolbox)."""
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def _recorded(self, key: str | None) -> bool:
        """Whether ``key`` has a final outcome in the journal (answered without sending)."""
        if key is None:
            return False
        record = self.host.journal.get(key)
        return record is not None and not record.unsettled

    def _reserve(self) -> bool:
        with self._lock:
            if self.max_sends and self._sends >= self.max_sends:
                return False
            self._sends += 1
            return True

    def _release(self) -> None:
        with self._lock:
            self._sends -= 1

    def _refused(self, tool: Tool, why: str) -> Outcome:
        said = why if _said(why) else f"{why}; nothing was sent"
        return Outcome(error=self._mask(f"{tool.name}: {said}"))


def _is_key(key: object) -> bool:
    """Whether ``key`` can be an idempotency key: short text the journal can store."""
    if not isinstance(key, str) or not 0 < len(key) <= KEY_LENGTH:
        return False
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def _failure(error: ComponentError) -> str:
    """An error as a model should read it: what happened, and whether anything was sent."""
    text = str(error)
    if error.may_have_sent:
        return text if _MAY_HAVE_SENT in text else f"{text} ({_MAY_HAVE_SENT})"
    return text if _said(text) else f"{text} (nothing was sent)"


def _said(text: str) -> bool:
    """Whether ``text`` says already whether anything was sent."""
    lowered = text.lower()
    return "nothing was sent" in lowered or _MAY_HAVE_SENT.lower() in lowered


def _scope(host: Host, component: Component, connection: Mapping[str, Any]) -> str:
    """Where a key's sends went: the component, the connection's non-secret values (which
    account) and the API address, as a digest. A key used on a sandbox never answers for a
    real account, nor one account's key for another."""
    secret = component.descriptor.secret_properties
    identity = {
        "component": component.descriptor.type,
        "account": {k: v for k, v in connection.items() if k not in secret},
        "address": getattr(host.settings, "base_url", None),
    }
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
