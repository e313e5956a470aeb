"""What a trigger handler is given and gives back: a webhook request in, the answer and events out.

A component registers a ``TriggerHandler`` per trigger of its descriptor. The host gives it a
plain ``WebhookRequest`` (method, the public URL the service called, headers, body); the handler
verifies it (the service's signature) and says what to answer and which events it carries,
each with an identity. The host then runs each event at most once (``EventLedger``) and in
order: an event ranked below one already seen in its sequence (a status callback arriving
after a later status) is acknowledged and not emitted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from twilio_component.component import Connection, Runtime
from twilio_component.descriptor import Trigger

__all__ = [
    "Answering",
    "Event",
    "EventLedger",
    "Headers",
    "Received",
    "Reception",
    "TriggerHandler",
    "TriggerInvocation",
    "WebhookAnswer",
    "WebhookRequest",
]


class Headers(Mapping[str, str]):
    """HTTP headers looked up without regard to case; the first of repeated names wins."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | Sequence[tuple[str, str]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in pairs:
            self._items.setdefault(name.lower(), (name, value))

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __iter__(self) -> Any:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self)!r})"


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """A webhook as it arrived: ``url`` is the public URL the service called (signatures are
    computed over it), with its query string."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes = b""

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            object.__setattr__(self, "headers", Headers(self.headers))


@dataclass(frozen=True, slots=True)
class WebhookAnswer:
    """What to answer the service: status, headers and body."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Event:
    """One event a webhook carries: its data (the trigger's output object) and identity.

    ``identity`` is what makes two deliveries the same event (the host runs each once).
    ``sequence`` and ``rank`` order the events of one thing (a message's statuses): an event
    ranked at or below the highest already seen in its sequence is not emitted.
    """

    identity: str
    data: Mapping[str, Any]
    sequence: str | None = None
    rank: int = 0
    #: Other identities of the same delivery (e.g. a retry token); any one seen means seen.
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Reception:
    """What a handler made of a request: the answer, and the events when it was genuine."""

    answer: WebhookAnswer
    events: tuple[Event, ...] = ()


@dataclass(frozen=True, slots=True)
class Received:
    """What the host made of a request: the answer to give and the events to run, new ones
    only; ``duplicates`` and ``stale`` count the ones acknowledged and not emitted."""

    answer: WebhookAnswer
    events: tuple[dict[str, Any], ...] = ()
    duplicates: int = 0
    stale: int = 0


@dataclass(frozen=True, slots=True)
class TriggerInvocation:
    """One use of a trigger: its validated parameters, the connection and the host's runtime.

    ``webhook_url`` is the public URL the service is (or is to be) told to call.
    """

    trigger: Trigger
    parameters: Mapping[str, Any]
    connection: Connection
    runtime: Runtime
    webhook_url: str


class TriggerHandler(Protocol):
    """What a component implements for a trigger.

    ``receive`` verifies a request and returns the answer and the events (none when the request
    is not genuine: answer 403). ``enable`` and ``disable`` register and restore a dynamic
    webhook; ``enable`` returns what ``disable`` needs to put things back (JSON-serializable).
    A static webhook's handler may make them no-ops.
    """

    def receive(self, request: WebhookRequest, invocation: TriggerInvocation, /) -> Reception: ...

    def enable(self, invocation: TriggerInvocation, /, *, take_over: bool) -> dict[str, Any]: ...

    def disable(self, invocation: TriggerInvocation, state: Mapping[str, Any], /) -> None: ...


@runtime_checkable
class Answering(Protocol):
    """A trigger handler whose service waits for content in the webhook's answer (a phone
    call waits for what to say). The workflow's top-level ``answer`` is that content: its
    references are filled in (each value through ``escape``) after the tasks ran, and the text
    is answered through ``answer``. ``answer_problem`` checks a workflow's answer before it
    runs, with every reference replaced by sample text."""

    def answer_problem(self, text: str, /) -> str | None:
        """Why ``text`` cannot be this service's answer, or None."""

    def escape(self, text: str, /) -> str:
        """A referenced value as it goes into the answer."""

    def answer(self, text: str, /) -> WebhookAnswer:
        """The webhook's answer carrying ``text``."""


class EventLedger(Protocol):
    """Remembers which events ran, so each runs at most once (a journal can be one)."""

    def claim(self, identities: Sequence[str]) -> bool:
        """Atomically: True and remember all ``identities`` if none was seen, else False."""
        ...

    def advance(self, sequence: str, rank: int) -> bool:
        """Atomically: True and remember ``rank`` if it is above the sequence's highest."""
        ...
