"""Each trigger event at most once: a bounded ledger in memory, and the host's settling of a
handler's events against a ledger (a journal is a ledger that survives restarts)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from twilio_component.triggers.protocol import EventLedger, Received, Reception

__all__ = ["MemoryLedger", "settle"]


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
