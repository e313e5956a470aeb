"""Which journal a target names: a ``postgresql://`` URL, or an SQLite file path."""

from __future__ import annotations

import os

from twilio_component.journal.store import Journal

__all__ = ["open_journal"]


def open_journal(target: str | os.PathLike[str]) -> Journal:
    """The journal at ``target``: a ``postgresql://`` URL (``pip install
    'twilio-component[postgres]'``) or an SQLite file path."""
    text = os.fspath(target)
    if text.startswith(("postgresql://", "postgres://")):
        from twilio_component.journal.postgres import PostgresJournal

        return PostgresJournal(text)
    return Journal(text)
