"""Triggers: a webhook request in, the HTTP answer and the events it carries out.

A component registers a ``TriggerHandler`` per trigger of its descriptor. The host gives it a
plain ``WebhookRequest`` (method, the public URL the service called, headers, body); the handler
verifies it (the service's signature) and says what to answer and which events it carries,
each with an identity. The host then runs each event at most once (``EventLedger``) and in
order: an event ranked below one already seen in its sequence (a status callback arriving
after a later status) is acknowledged and not emitted.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from twilio_component.component import Connection, Runtime
from twilio_component.descriptor import Trigger

__all__ = [
    "Event",
    "EventLedger",
    "MemoryLedger",
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


class EventLedger(Protocol):
    """Remembers which events ran, so each runs at most once (a journal can be one)."""

    def claim(self, identities: Sequence[str]) -> bool:
        """Atomically: True and remember all ``identities`` if none was seen, else False."""
        ...

    def advance(self, sequence: str, rank: int) -> bool:
        """Atomically: True and remember ``rank`` if it is above the sequence's highest."""
        ...


class MemoryLedger:
    """An EventLedger in memory, bounded: the oldest identities are forgotten past ``capacity``.

    Twilio retries a webhook within seconds to minutes; a bound of 100,000 events keeps about
    20 MB at most while covering far more than any retry window at Twilio's webhook rates.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._ranks: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, identities: Sequence[str]) -> bool:
        """True, remembering every identity, when none was seen; else False."""
        with self._lock:
            if any(identity in self._seen for identity in identities):
                return False
            for identity in identities:
                self._seen[identity] = None
            while len(self._seen) > self.capacity:
                self._seen.popitem(last=False)
            return True

    def advance(self, sequence: str, rank: int) -> bool:
        """True, remembering ``rank``, when it is above the highest seen for ``sequence``."""
        with self._lock:
            highest = self._ranks.get(sequence)
            if highest is not None and rank <= highest:
                return False
            self._ranks[sequence] = rank
            self._ranks.move_to_end(sequence)
            while len(self._ranks) > self.capacity:
                self._ranks.popitem(last=False)
            return True


def settle(trigger_type: str, reception: Reception, ledger: EventLedger) -> Received:
    """The events of ``reception`` the ledger has not seen, in order; the rest counted."""
    emitted: list[dict[str, Any]] = []
    duplicates = stale = 0
    for event in reception.events:
        identities = [f"{trigger_type} {i}" for i in (event.identity, *event.aliases)]
        if not ledger.claim(identities):
            duplicates += 1
        elif event.sequence is not None and not ledger.advance(
            f"{trigger_type} {event.sequence}", event.rank
        ):
            stale += 1
        else:
            emitted.append(dict(event.data))
    return Received(reception.answer, tuple(emitted), duplicates, stale)
