"""A journal seen as the EventLedger of triggers: each event runs once, statuses only climb."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twilio_component.journal.store import Journal

__all__ = ["JournalLedger"]


class JournalLedger:
    """A journal seen as an EventLedger (``claim`` of identities, ``advance`` of ranks)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def claim(self, identities: Sequence[str]) -> bool:
        """True when none of ``identities`` was seen, remembering them all."""
        return self.journal.claim_event(identities)

    def advance(self, sequence: str, rank: int) -> bool:
        """True when ``rank`` is above the highest seen for ``sequence``."""
        return self.journal.advance(sequence, rank)
