"""Outcomes held back and written together: with a journal's next claims, or by ``settle``.

A campaign records thousands of outcomes; each written in a commit of its own costs more than
sending the row. None of them needs to reach the disk at once: each row's claim, with its
attempt mark, is durable before its request leaves, so an outcome a crash loses only makes
the next run look that row up in the service's log (found: recorded as sent; certainly
absent: sent). ``Deferred`` takes the place of the journal where ``run_claimed`` records an
outcome and hands what it holds to the next transaction (``Journal.claim_many(...,
settle=deferred)``); a transaction that fails puts them back, so what could never be written
is still known (``held``) and can be counted as unknown.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twilio_component.journal.store import Cursor, Journal

__all__ = ["Deferred", "Outcome"]

#: One outcome held back: (key, owner, state, assignments, values).
Outcome = tuple[str, str, str, str, tuple[Any, ...]]


class Deferred:
    """Outcomes of keyed steps held back for one journal; thread-safe. Its ``sent``,
    ``failed``, ``unknown``, ``held`` and ``release`` take what the journal's own do."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._lock = threading.Lock()
        self._held: list[Outcome] = []

    def sent(self, key: str, owner: str, output: Mapping[str, Any]) -> None:
        """Hold back the step's output."""
        text = json.dumps(output, sort_keys=True, ensure_ascii=False, default=str)
        self._add(key, owner, "sent", text)

    def failed(self, key: str, owner: str, code: int | None, message: str) -> None:
        """Hold back the service's refusal."""
        self._add(key, owner, "failed", code, message)

    def unknown(self, key: str, owner: str, message: str) -> None:
        """Hold back that the request may have been received."""
        self._add(key, owner, "unknown", message)

    def held(self, key: str, owner: str, message: str) -> None:
        """Hold back an ambiguity a person must resolve."""
        self._add(key, owner, "held", message)

    def skipped(self, key: str, owner: str, state: str, message: str) -> None:
        """Hold back that the step is done without sending (``opted_out``,
        ``skipped_landline``)."""
        self._add(key, owner, state, message)

    def deferred(self, key: str, owner: str) -> None:
        """Hold back that the key was not sent yet, left for a later run (quiet hours)."""
        self._add(key, owner, "deferred")

    def release(self, key: str, owner: str) -> None:
        """Hold back that the key was never sent."""
        self._add(key, owner, "pending")

    def _add(self, key: str, owner: str, state: str, *values: Any) -> None:
        assignments, bound = self.journal.outcome(state, *values)
        with self._lock:
            self._held.append((key, owner, state, assignments, bound))

    def write(self, db: Cursor) -> list[Outcome]:
        """Write every outcome held inside the transaction ``db``; the ones taken."""
        with self._lock:
            taken, self._held = self._held, []
        for key, owner, _, assignments, values in taken:
            self.journal.write_outcome(db, key, owner, assignments, values)
        return taken

    def put_back(self, taken: list[Outcome]) -> None:
        """Hold again outcomes whose transaction failed (before any held since)."""
        with self._lock:
            self._held[:0] = taken

    def states(self) -> dict[str, int]:
        """How many outcomes are held, by state (what a failed journal never got)."""
        counts: dict[str, int] = {}
        with self._lock:
            for _, _, state, _, _ in self._held:
                counts[state] = counts.get(state, 0) + 1
        return counts

    def __len__(self) -> int:
        with self._lock:
            return len(self._held)
