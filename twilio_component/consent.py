"""Sending only to who has not opted out: what a component tells of opt-outs (from the messages
people send and from the service's refusals), kept in the journal and checked before a send."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twilio_component.errors import ComponentError, RefusedError

if TYPE_CHECKING:
    from twilio_component.journal.store import Journal
    from twilio_component.pacing import Traffic

__all__ = [
    "Consent",
    "ConsentChange",
    "OptedOutError",
    "guard",
    "learn_events",
    "learn_refusal",
    "record_opted_out",
]


@dataclass(frozen=True, slots=True)
class ConsentChange:
    """Someone opted out of a sender (``opted_out``), or back in."""

    opted_out: bool
    address: str
    scope: str


@dataclass(frozen=True, slots=True)
class Consent:
    """How a component's service tells opt-outs (``Component(consent=...)``).

    ``change`` reads a trigger's event (by trigger name): the opt-out or opt-in it carries, or
    None. ``refused`` says whether a refusal of a send means the recipient opted out.
    """

    change: Callable[[str, Mapping[str, Any]], ConsentChange | None]
    refused: Callable[[ComponentError], bool]


class OptedOutError(RefusedError):
    """The recipient opted out of this sender: nothing was sent (exit 3)."""

    def __init__(self, address: str, sender: str) -> None:
        self.address = address
        self.sender = sender
        super().__init__(
            f"{address} opted out of messages from {sender}; nothing was sent. If they opted "
            f"back in (by replying START, say), `optouts remove {address}` lets them be sent to"
        )


def guard(journal: Journal, traffic: Traffic, parameters: Mapping[str, Any]) -> None:
    """OptedOutError when the step's recipient opted out of its sender."""
    address, sender = traffic.recipient(parameters), traffic.sender(parameters)
    if journal.optouts.blocks(address, sender):
        raise OptedOutError(address, sender)


def record_opted_out(
    journal: Journal, key: str, step: Mapping[str, Any], error: OptedOutError
) -> None:
    """Record a keyed step whose recipient opted out as done without sending (a worker's row,
    refused before its claim), so that no run tries it again."""
    from twilio_component.journal.keyed import mark_unsent

    mark_unsent(journal, key, step, "opted_out", str(error))


def learn_refusal(
    journal: Journal,
    traffic: Traffic,
    consent: Consent,
    parameters: Mapping[str, Any],
    error: ComponentError,
) -> bool:
    """Record an opt-out when the service refused a send because of one; whether it did."""
    if not consent.refused(error):
        return False
    address, sender = traffic.recipient(parameters), traffic.sender(parameters)
    try:
        journal.optouts.add(address, sender, source="refused")
    except journal.errors:  # the refusal is what matters; the next one records it
        return False
    return True


def learn_events(
    journal: Journal, consent: Consent, trigger_name: str, events: tuple[Mapping[str, Any], ...]
) -> int:
    """Record the opt-outs and opt-ins trigger events carry; how many changes."""
    changes = 0
    for event in events:
        change = consent.change(trigger_name, event)
        if change is None:
            continue
        if change.opted_out:
            journal.optouts.add(change.address, change.scope, source="replied")
        else:
            journal.optouts.remove(change.address, change.scope)
        changes += 1
    return changes
