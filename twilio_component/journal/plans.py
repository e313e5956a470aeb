"""A campaign's plan as rows of the journal: one per recipient, read and fed a page at a time.

A plan is written in batches, then sealed by one durable commit that records its size; a plan
cut short by a crash has no size and is written again from the start. Each row holds its
position (CSV order), its keyed step's key, its parameters and, for workers, its pace; its
state is the keyed step's record (``steps``), joined by key, so a plan row never changes once
written. Workers take rows a window at a time: ``feed`` moves the campaign's cursor forward
and returns the rows it passed, so the broker never holds more than the window.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twilio_component.journal.store import Journal

__all__ = ["PAGE", "PlanRow", "Plans"]

#: Rows read or written at once: memory holds one page, whatever the campaign's size.
PAGE = 1000

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS plan_rows (
        campaign TEXT NOT NULL,
        position INTEGER NOT NULL,
        key TEXT NOT NULL,
        parameters TEXT NOT NULL,
        pace TEXT,
        PRIMARY KEY (campaign, position)
    )""",
    """CREATE TABLE IF NOT EXISTS plans (
        campaign TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        fed INTEGER NOT NULL
    )""",
)


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One planned recipient and what the journal says of it (``state`` None: not reached)."""

    position: int
    key: str
    parameters: dict[str, Any]
    pace: dict[str, Any] | None
    state: str | None
    error_code: int | None
    output: str | None
    step_type: str | None

    def output_object(self) -> dict[str, Any] | None:
        """The recorded output, parsed (None when there is none)."""
        return json.loads(self.output) if self.output else None


class Plans:
    """The plans kept in one journal (``Journal.plans``)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        p = journal.database.placeholder
        self._p = p
        columns = (
            "p.position, p.key, p.parameters, p.pace, s.state, s.error_code, s.output, "
            "s.step_type FROM plan_rows p LEFT JOIN steps s ON s.key = p.key"
        )
        self._page = (
            f"SELECT {columns} WHERE p.campaign = {p} AND p.position > {p} "
            f"ORDER BY p.position LIMIT {p}"
        )
        self._between = (
            f"SELECT {columns} WHERE p.campaign = {p} AND p.position > {p} "
            f"AND p.position <= {p} ORDER BY p.position"
        )
        self._counts = (
            "SELECT s.state, COUNT(*) FROM plan_rows p LEFT JOIN steps s ON s.key = p.key "
            f"WHERE p.campaign = {p} GROUP BY s.state"
        )
        self._insert = (
            "INSERT INTO plan_rows (campaign, position, key, parameters, pace) "
            f"VALUES ({p}, {p}, {p}, {p}, {p})"
        )
        self._size = f"SELECT size, fed FROM plans WHERE campaign = {p}"

    def size(self, campaign: str) -> int | None:
        """How many rows the campaign's sealed plan has (None: no sealed plan)."""
        rows = self.journal.database.read(self._size, (campaign,))
        return int(rows[0][0]) if rows else None

    def fed(self, campaign: str) -> int:
        """How many of its rows (from the first) have been handed to workers."""
        rows = self.journal.database.read(self._size, (campaign,))
        return int(rows[0][1]) if rows else 0

    def store(
        self,
        campaign: str,
        rows: Iterable[tuple[str, Mapping[str, Any], Mapping[str, Any] | None]],
        *,
        page: int = PAGE,
    ) -> int:
        """Write the plan (``(key, parameters, pace)`` for each row, in order) in batches and
        seal it; how many rows. A plan an earlier writer did not seal is replaced."""
        database, p = self.journal.database, self._p
        with database.transaction() as db:
            db.execute(f"DELETE FROM plan_rows WHERE campaign = {p}", (campaign,))
        count = 0
        batch: list[tuple[Any, ...]] = []
        for key, parameters, pace in rows:
            batch.append((campaign, count, key, _json(parameters), _json(pace) if pace else None))
            count += 1
            if len(batch) >= page:
                self._write(batch)
                batch = []
        self._write(batch)
        with database.transaction() as db:  # durable: every batch before it is kept too
            db.execute(
                f"INSERT INTO plans (campaign, size, fed) VALUES ({p}, {p}, 0) "
                "ON CONFLICT (campaign) DO UPDATE SET size = excluded.size",
                (campaign, count),
            )
        return count

    def _write(self, batch: list[tuple[Any, ...]]) -> None:
        if batch:
            with self.journal.database.transaction(durable=False) as db:
                db.executemany(self._insert, batch)

    def rows(self, campaign: str, *, after: int = -1, page: int = PAGE) -> Iterator[PlanRow]:
        """The plan's rows after position ``after``, in order, read a page at a time."""
        while True:
            found = self.journal.database.read(self._page, (campaign, after, page))
            for row in found:
                yield _plan_row(row)
            if len(found) < page:
                return
            after = int(found[-1][0])

    def counts(self, campaign: str) -> dict[str | None, int]:
        """How many of the plan's rows are in each state (None: not reached yet)."""
        found = self.journal.database.read(self._counts, (campaign,))
        return {state: int(count) for state, count in found}

    def feed(self, campaign: str, count: int) -> list[PlanRow]:
        """Move the campaign's cursor up to ``count`` rows forward; the rows it passed."""
        p = self._p
        with self.journal.database.transaction(durable=False) as db:
            row = db.execute(self._size, (campaign,)).fetchone()
            if row is None:
                return []
            size, fed = int(row[0]), int(row[1])
            upto = min(size, fed + max(0, count))
            if upto == fed:
                return []
            db.execute(f"UPDATE plans SET fed = {p} WHERE campaign = {p}", (upto, campaign))
        # Rows never change once written: read them outside the write transaction.
        found = self.journal.database.read(self._between, (campaign, fed - 1, upto - 1))
        return [_plan_row(r) for r in found]


def _plan_row(row: Any) -> PlanRow:
    return PlanRow(
        position=int(row[0]),
        key=row[1],
        parameters=json.loads(row[2]),
        pace=json.loads(row[3]) if row[3] else None,
        state=row[4],
        error_code=row[5],
        output=row[6],
        step_type=row[7],
    )


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
