"""Opens the journal a target names: an SQLite file, or a PostgreSQL server."""

from __future__ import annotations

import os

from twilio_component.errors import ConnectionConfigError, Problem
from twilio_component.journal.store import Journal
from twilio_component.journal.targets import is_server, shown, target_problem

__all__ = ["open_journal"]


def open_journal(target: str | os.PathLike[str]) -> Journal:
    """The journal at ``target``: a ``postgresql://`` URL (``pip install
    'twilio-component[postgres]'``) or an SQLite file path; ConnectionConfigError (its
    problem at path ``journal``) when it names none."""
    text = os.fspath(target)
    problem = target_problem(text)
    if problem is not None:
        raise ConnectionConfigError([Problem("journal", f"{shown(text)!r} {problem}")])
    if is_server(text):
        from twilio_component.journal.postgres import PostgresJournal

        return PostgresJournal(text)
    return Journal(text)
