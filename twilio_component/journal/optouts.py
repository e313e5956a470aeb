"""Who asked not to be sent to, kept in the journal: one row per address and scope.

A scope is the sender the opt-out applies to (a number, a sender pool's ID), as the service
scopes them, or ``*`` for every sender (an opt-out added by hand). An address is blocked for a
sender when it opted out of that sender or of every sender. Opting back in removes the row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from twilio_component.journal.store import Journal

__all__ = ["EVERY_SENDER", "OptOut", "OptOuts"]

#: The scope of an opt-out from every sender.
EVERY_SENDER: Final = "*"

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS optouts (
        address TEXT NOT NULL,
        scope TEXT NOT NULL,
        source TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (address, scope)
    )""",
)


@dataclass(frozen=True, slots=True)
class OptOut:
    """One opt-out: who, from which sender (``*``: every one), how it was learnt and when."""

    address: str
    scope: str
    source: str
    at: str


class OptOuts:
    """The opt-outs kept in one journal (``Journal.optouts``)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        p = journal.database.placeholder
        self._p = p
        self._blocked = (
            f"SELECT scope FROM optouts WHERE address = {p} AND (scope = {p} OR scope = '*')"
        )
        self._add = (
            f"INSERT INTO optouts (address, scope, source, at) VALUES ({p}, {p}, {p}, {p}) "
            "ON CONFLICT (address, scope) DO UPDATE SET source = excluded.source, at = excluded.at"
        )

    def add(self, address: str, scope: str = EVERY_SENDER, *, source: str = "added") -> None:
        """Record that ``address`` opted out of ``scope`` (again: the newest source is kept)."""
        self.add_many([(address, scope)], source=source)

    def add_many(self, pairs: Iterable[tuple[str, str]], *, source: str) -> int:
        """Record many opt-outs of (address, scope) in one transaction; how many."""
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows = [(address, scope or EVERY_SENDER, source, at) for address, scope in pairs]
        if rows:
            with self.journal.database.transaction() as db:
                db.executemany(self._add, rows)
        return len(rows)

    def remove(self, address: str, scope: str | None = None) -> int:
        """Opt ``address`` back in to ``scope`` (a reply such as START: an opt-out from every
        sender, added by hand, stays), or to everything when ``scope`` is None; how many
        opt-outs were removed."""
        p = self._p
        with self.journal.database.transaction() as db:
            if scope is None:
                done = db.execute(f"DELETE FROM optouts WHERE address = {p}", (address,))
            else:
                done = db.execute(
                    f"DELETE FROM optouts WHERE address = {p} AND scope = {p}", (address, scope)
                )
            return int(done.rowcount or 0)

    def blocks(self, address: str, sender: str) -> bool:
        """Whether ``address`` opted out of ``sender`` or of every sender."""
        return bool(self.journal.database.read(self._blocked, (address, sender)))

    def listed(self, scope: str | None = None) -> list[OptOut]:
        """Every opt-out (of ``scope`` only, when given), by address."""
        p = self._p
        columns = "SELECT address, scope, source, at FROM optouts"
        if scope is None:
            rows = self.journal.database.read(f"{columns} ORDER BY address, scope")
        else:
            rows = self.journal.database.read(
                f"{columns} WHERE scope = {p} ORDER BY address", (scope,)
            )
        return [OptOut(*row) for row in rows]
