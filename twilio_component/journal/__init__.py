"""The journal: each keyed step sent at most once, and each trigger event run once, across
crashes and restarts; on SQLite or PostgreSQL."""

from __future__ import annotations

from twilio_component.journal.keyed import run_once
from twilio_component.journal.store import (
    Claim,
    Cursor,
    Database,
    Journal,
    JournalLedger,
    Record,
    fingerprint,
    new_owner,
)
from twilio_component.journal.targets import open_journal

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
