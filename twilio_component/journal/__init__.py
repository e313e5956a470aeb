"""The journal: each keyed step sent at most once, and each trigger event run once, across
crashes and restarts; on SQLite or PostgreSQL."""

from __future__ import annotations

from twilio_component.journal.keyed import run_once
from twilio_component.journal.ledger import JournalLedger
from twilio_component.journal.opener import open_journal
from twilio_component.journal.store import (
    Claim,
    Cursor,
    Database,
    Journal,
    Record,
    fingerprint,
    new_owner,
)

__all__ = [
    "Claim",
    "Cursor",
    "Database",
    "Journal",
    "JournalLedger",
    "Record",
    "fingerprint",
    "new_owner",
    "open_journal",
    "run_once",
]
