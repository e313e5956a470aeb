"""What a plugin registers: a descriptor with a handler per action, and what a handler receives."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from twilio_component.descriptor import Action, Descriptor
from twilio_component.settings import HostSettings
from twilio_component.validation import RuleCheck

if TYPE_CHECKING:
    from twilio_component.consent import Consent
    from twilio_component.pacing import Traffic
    from twilio_component.triggers.protocol import TriggerHandler

T = TypeVar("T")


class Connection:
    """Validated connection values; secrets are kept out of ``repr`` and ``str``."""

    __slots__ = ("_secrets", "_values", "authorization")

    def __init__(
        self, authorization: str, values: Mapping[str, Any], secrets: frozenset[str]
    ) -> None:
        self.authorization = authorization
        self._values = dict(values)
        self._secrets = secrets

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def get(self, name: str, default: Any = None) -> Any:
        """The value of ``name``, or ``default``."""
        return self._values.get(name, default)

    def mask(self, text: str) -> str:
        """``text`` with every secret value of this connection replaced by ********."""
        for name in self._secrets:
            value = self._values.get(name)
            if isinstance(value, str) and value:
                text = text.replace(value, "********")
        return text

    def __repr__(self) -> str:
        shown = {k: ("********" if k in self._secrets else v) for k, v in self._values.items()}
        return f"Connection({self.authorization!r}, {shown!r})"

    __str__ = __repr__


class Runtime:
    """What a Host shares with the handlers it runs: settings and long-lived resources."""

    def __init__(self, settings: HostSettings) -> None:
        self.settings = settings
        self._shared: dict[str, Any] = {}
        self._lock = threading.Lock()

    def shared(self, key: str, factory: Callable[[], T]) -> T:
        """The resource stored under ``key``, made once by ``factory`` (thread-safe)."""
        try:
            return self._shared[key]  # type: ignore[no-any-return]
        except KeyError:
            with self._lock:
                if key not in self._shared:
                    self._shared[key] = factory()
                return self._shared[key]  # type: ignore[no-any-return]

    def close(self) -> None:
        """Close every shared resource that can be closed."""
        with self._lock:
            for resource in self._shared.values():
                close = getattr(resource, "close", None)
                if callable(close):
                    close()
            self._shared.clear()


@dataclass(frozen=True, slots=True)
class Invocation:
    """One run of an action: validated parameters, the connection, and the host's runtime."""

    action: Action
    parameters: Mapping[str, Any]
    connection: Connection
    runtime: Runtime


class Handler(Protocol):
    """Runs an action and returns its output object."""

    def __call__(self, invocation: Invocation, /) -> dict[str, Any]: ...


class Reconciler(Protocol):
    """Finds what an earlier attempt of an action did, from the service's own records.

    Returns the output object when the attempt (made around ``attempted_at``) was received,
    None when it certainly was not; raises an UnknownOutcomeError when it cannot tell. It
    never sends.
    """

    def __call__(
        self, invocation: Invocation, attempted_at: datetime, /
    ) -> dict[str, Any] | None: ...


@dataclass(frozen=True, slots=True)
class EnvironmentConnection:
    """How a component's connection is read from environment variables (by the command line
    and by workers), when it can be: ``read`` returns the connection or raises
    ConnectionConfigError naming each variable; ``variables`` maps a connection property to
    the variable it comes from, so that a problem found later names the variable."""

    read: Callable[[Mapping[str, str]], dict[str, Any]]
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Component:
    """A component as registered with the host: its descriptor, what runs each action and what
    receives each trigger."""

    descriptor: Descriptor
    handlers: Mapping[str, Handler]
    #: Implementations of the descriptor's code-level rules, by rule name.
    rules: Mapping[str, RuleCheck] = field(default_factory=dict)
    #: The output shapes (``shape:`` in the descriptor's outputs) its handlers know how to build.
    shapes: Collection[str] = ()
    #: What receives each trigger of the descriptor, by trigger name.
    triggers: Mapping[str, TriggerHandler] = field(default_factory=dict)
    #: How to look up an earlier attempt of each action (keyed steps after a crash), by action.
    #: An action without one has such a key held rather than sent again.
    reconcilers: Mapping[str, Reconciler] = field(default_factory=dict)
    #: What names the thing an output object or a trigger's event is about (a message's ID):
    #: errors say what was already done with it, ``listen`` which event ran. None: nothing.
    receipt: Callable[[Mapping[str, Any]], str | None] | None = None
    #: Who its steps go to, whose pace they spend and at what default rate (campaigns need
    #: it); None: its steps cannot be sent as a campaign.
    traffic: Traffic | None = None
    #: How its connection is read from the environment; None: only from a file or in Python.
    environment: EnvironmentConnection | None = None
    #: How its service tells opt-outs (replies such as STOP, refusals); None: it tells none.
    consent: Consent | None = None
