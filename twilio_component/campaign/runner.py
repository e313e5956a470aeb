"""A campaign sent from this machine: its plan read from the journal a page at a time, paced per
sender, claimed in batches, sent by threads sharing one Host, capped in flight, each row's
outcome counted; a rerun resumes (the journal decides each row)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twilio_component.campaign.lines import is_landline
from twilio_component.campaign.plan import Campaign
from twilio_component.campaign.window import Window
from twilio_component.consent import OptedOutError
from twilio_component.errors import (
    ComponentError,
    JournalUnavailableError,
    KeyBusyError,
    KeyHeldError,
    RecordedRefusal,
    RefusedError,
    UnrecordedError,
)
from twilio_component.journal.deferred import Deferred
from twilio_component.journal.keyed import run_claimed
from twilio_component.journal.store import new_owner
from twilio_component.pacing import Pacer, refused_for_now

if TYPE_CHECKING:
    from twilio_component.journal.plans import PlanRow
    from twilio_component.journal.store import Claim

__all__ = ["DEFAULT_CONCURRENCY", "LATE_WAKE", "RETRIES_LATER", "Summary", "send"]

#: How many times one run tries a row refused for now before leaving it pending.
RETRIES_LATER = 8
#: Seconds after its slot a thread may still send; later, it books a new slot.
LATE_WAKE = 0.1
#: Requests a campaign keeps in flight unless told.
DEFAULT_CONCURRENCY = 32
#: Rows claimed in one commit at most, before their places in flight come free.
CLAIMED_AHEAD = 32
#: Seconds before its slot a row may be claimed (and wait for it in its sending thread).
HORIZON = 0.05
#: A full window is refilled once this share of it is free again (1/4): rows are claimed in
#: batches and the feeder wakes once a batch, not once a row (once a row in a small window).
REFILL = 4


@dataclass
class Summary:
    """What a campaign run did; ``as_json`` is what ``campaign send`` prints."""

    campaign: str
    total: int
    duplicates: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    pending: int = 0
    held: int = 0
    opted_out: int = 0
    deferred: int = 0
    skipped_landline: int = 0
    already: int = 0
    interrupted: bool = False
    elsewhere: int = 0
    elapsed: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    #: Why the journal could not be read or written, when it could not (a full disk...).
    journal_error: str | None = None

    @property
    def done(self) -> int:
        """Rows with an outcome in this run (sent, refused, unknown, left for later)."""
        return (
            self.sent
            + self.failed
            + self.unknown
            + self.pending
            + self.elsewhere
            + self.held
            + self.opted_out
            + self.deferred
            + self.skipped_landline
        )

    @property
    def left(self) -> int:
        """Rows not finished: unknown, refused for now, sent elsewhere now, held, or deferred
        to their send window."""
        return self.unknown + self.pending + self.elsewhere + self.held + self.deferred

    def as_json(self) -> dict[str, Any]:
        """The JSON summary: counts, then how long it took and the error codes seen."""
        return {
            "campaign": self.campaign,
            "total": self.total,
            "sent": self.sent,
            "failed": self.failed,
            "unknown": self.unknown,
            "pending": self.pending,
            "held": self.held,
            "opted_out": self.opted_out,
            "deferred": self.deferred,
            "skipped_landline": self.skipped_landline,
            "sending_elsewhere": self.elsewhere,
            "duplicates": self.duplicates,
            "already_done": self.already,
            "seconds": round(self.elapsed, 3),
            "error_codes": self.errors,
            "interrupted": self.interrupted,
            "journal_error": self.journal_error,
        }


def send(
    campaign: Campaign,
    connection: Mapping[str, Any],
    *,
    mps: float | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Callable[[Summary], None] = lambda summary: None,
    duplicates: int = 0,
) -> Summary:
    """Send every row of the campaign's plan (``Campaign.store``) that is not done, at most
    once per recipient; the counts of this run.

    The plan is read from the journal a page at a time; the rows whose turn has come are
    claimed together (one durable commit) and sent by ``concurrency`` threads. Each sender is
    paced at ``mps`` units a second (its component's default rate when None) and at most
    ``concurrency`` requests are in flight. A KeyboardInterrupt stops it soon: rows not begun
    stay as they are (a rerun sends them), rows in flight finish and are recorded, and the
    summary says ``interrupted``.
    """
    run = _Run(campaign, connection, mps=mps, concurrency=concurrency, progress=progress)
    journal = campaign.host.journal
    try:
        run.summary.total = journal.plans.size(campaign.id) or 0
    except journal.errors as error:
        raise JournalUnavailableError(journal.path, str(error).splitlines()[0]) from None
    run.summary.duplicates = duplicates
    try:
        run.feed(journal.plans.rows(campaign.id))
    except KeyboardInterrupt:
        # Rows not begun stay as they are in the journal (a rerun sends them); the ones in
        # flight finish and are recorded, so nothing is left half-known.
        run.summary.interrupted = True
    except BaseException:
        campaign.stopping.set()  # whatever went wrong, what was sent is still recorded
        run.pool.shutdown(wait=True)
        run.settle()
        raise
    finally:
        if run.summary.interrupted:
            campaign.stopping.set()
    run.pool.shutdown(wait=True)  # rows handed out and not begun see the stop: given back
    run.settle()
    if run.failure is not None:
        raise run.failure
    summary = run.summary
    summary.pending += max(0, summary.total - summary.done)  # the rows not reached
    summary.elapsed = time.monotonic() - run.started
    return summary


#: One row to send and how many times it was refused for now.
_Item = tuple["PlanRow", int]
#: A row whose slot is booked, and when it is due (a monotonic time).
_Ready = tuple[_Item, float]


class _Run:
    """One run of a campaign from this machine: the feeder (the caller's thread) takes each
    row's turn (a place in flight, then its sender's slot), claims the rows whose turn has come
    in one commit and hands them to the sending threads, which record each outcome."""

    def __init__(
        self,
        campaign: Campaign,
        connection: Mapping[str, Any],
        *,
        mps: float | None,
        concurrency: int,
        progress: Callable[[Summary], None],
    ) -> None:
        self.campaign = campaign
        self.connection = connection
        self.traffic = campaign.traffic
        self.component = campaign.host.component_of(campaign.step.get("type"))
        self.step_type = str(campaign.step.get("type"))
        self.pacer = Pacer(mps, rate=self.traffic.rate, max_concurrent=max(1, concurrency))
        self.window = Window(concurrency)
        self.pool = ThreadPoolExecutor(max_workers=max(1, concurrency))
        self.progress = progress
        self.summary = Summary(campaign.id, total=0)
        self.journal = campaign.host.journal
        self.owner = new_owner()
        #: Outcomes held back to ride with the next claims (one commit for both).
        self.deferred = Deferred(self.journal)
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._retries: deque[_Item] = deque()
        self._busy = 0  # rows handed to the threads and not counted yet
        #: The first unexpected error of a sending thread, raised once the run ends.
        self.failure: Exception | None = None

    def feed(self, rows: Iterator[PlanRow]) -> None:
        """Hand every row that is not done to the threads, in turn, then wait for them."""
        batch: list[_Ready] = []
        stopping = self.campaign.stopping
        while not stopping.is_set() and self.summary.journal_error is None:
            item = self._next(rows, batch)
            if item is None:
                break
            row = item[0]
            if row.state in _DONE:  # done earlier: nothing to claim
                self._count(str(row.state), row.error_code, already=row.state != "held")
                continue
            due = self._turn(row.parameters, batch)
            if due is None:  # stopped while waiting
                self._retries.appendleft(item)
                break
            batch.append((item, due))
            if len(batch) >= CLAIMED_AHEAD:
                self._flush(batch)
        self._flush(batch)
        with self._changed:
            while self._busy:
                self._changed.wait()

    def _next(self, rows: Iterator[PlanRow], batch: list[_Ready]) -> _Item | None:
        """The next row to hand out: one refused for now first, else the plan's next; None
        when both are done (after waiting for the rows in flight, which may come back)."""
        while True:
            with self._lock:
                if self._retries:
                    return self._retries.popleft()
            row = next(rows, None)
            if row is not None:
                return row, 0
            self._flush(batch)
            with self._changed:
                while self._busy and not self._retries:
                    self._changed.wait()
                if not self._retries:
                    return None

    def _turn(self, parameters: Mapping[str, Any], batch: list[_Ready]) -> float | None:
        """Book the sender's slot for a row; when it is more than HORIZON away, send what is
        batched and wait until it is near. When it is due (a monotonic time); None when
        stopped."""
        delay = self.pacer.reserve(self.traffic.sender(parameters), self.traffic.cost(parameters))
        due = time.monotonic() + delay
        if delay > HORIZON:
            self._flush(batch)
            if self.campaign.stopping.wait(delay - HORIZON):  # an interrupt came first
                return None
        return due

    def _flush(self, batch: list[_Ready]) -> None:
        """Claim the batched rows in one commit and hand each to a sending thread, as places
        in flight come free."""
        if not batch:
            return
        items = list(batch)
        batch.clear()
        steps = [(row.key, self.step_type, row.parameters) for (row, _), _ in items]
        try:
            claims = self.journal.claim_many(steps, self.owner, settle=self.deferred)
        except self.journal.errors as error:  # nothing was sent: the rows stay for a rerun
            self.summary.journal_error = str(error).splitlines()[0]
            with self._lock:
                self.summary.pending += len(items)
            return
        handed = 0  # claims given to a sender: whatever happens next, it records them
        try:
            for (item, due), claim in zip(items, claims, strict=True):
                # A row a crash cut short is looked up before anything else, in a thread of its
                # own, outside the window: lookups wait for the service's log, not for a place.
                looked_up = claim.kind == "reconcile"
                if not looked_up:
                    self.window.take(block=True, room=int(self.window.size) // REFILL)
                with self._lock:
                    # The row that fills the window is sent from here (this thread would only
                    # wait for room meanwhile): one thread fewer to wake, and with one request
                    # in flight, none at all.
                    last = not looked_up and self.window.free <= 0
                    self._busy += 1
                handed += 1
                if last:
                    self._send(item, claim, due)
                else:
                    self.pool.submit(self._send, item, claim, due)
        except BaseException:  # an interrupt: the claims not handed out were never sent
            for left in claims[handed:]:
                self._release(left.record.key)
            raise

    def settle(self) -> None:
        """Write the outcomes still held back; those the journal cannot take were sent or
        refused without a record, and count as unknown (the next run looks them up)."""
        try:
            self.journal.settle(self.deferred)
        except self.journal.errors as error:
            self.summary.journal_error = str(error).splitlines()[0]
            lost = self.deferred.states()
            for state in ("sent", "failed"):
                count = lost.get(state, 0)
                setattr(self.summary, state, getattr(self.summary, state) - count)
                self.summary.unknown += count

    def _release(self, key: str) -> None:
        with suppress(*self.journal.errors, RuntimeError):
            self.journal.release(key, self.owner)

    def _send(self, item: _Item, claim: Claim, due: float) -> None:
        """Send one claimed row at its slot (in a sending thread) and count its outcome."""
        row, tries = item
        crowded = False
        started = time.monotonic()
        windowed = claim.kind != "reconcile"  # see _flush
        try:
            if not self._wait_for(row.parameters, due):
                self._release(row.key)
                outcome, code = "pending", None
            else:
                started = time.monotonic()
                outcome, code, crowded = self._attempt(row, claim)
        except Exception as error:  # a bug: counted, and raised again once the run ends
            self.failure = self.failure or error
            outcome, code = "unknown", None
        finally:
            if windowed:
                self.window.give_back(crowded=crowded, latency=time.monotonic() - started)
        if outcome == "again":
            if tries + 1 < RETRIES_LATER and not self.campaign.stopping.is_set():
                with self._changed:
                    self._retries.append((row, tries + 1))
                    self._busy -= 1
                    self._changed.notify_all()
                return
            outcome = "pending"
        self._count(outcome, code, settled=True)

    def _wait_for(self, parameters: Mapping[str, Any], due: float) -> bool:
        """Wait until the row's slot; a row that waited well past it (for a place in flight,
        on a busy machine) books another rather than go in a bunch with the rows behind it.
        False when stopped first."""
        stopping = self.campaign.stopping
        while True:
            late = time.monotonic() - due
            if late > LATE_WAKE:
                sender, cost = self.traffic.sender(parameters), self.traffic.cost(parameters)
                due = time.monotonic() + self.pacer.reserve(sender, cost)
            elif late >= 0:
                return not stopping.is_set()
            if stopping.wait(max(0.0, due - time.monotonic())):
                return False

    def _attempt(self, row: PlanRow, claim: Claim) -> tuple[str, int | None, bool]:
        """One row's outcome (sent, failed, pending, elsewhere, held, unknown, or ``again``:
        refused for now), its error code, and whether the service said too many requests."""
        parameters = row.parameters
        window = self.campaign.send_window
        try:
            self.campaign.host.guard(self.component, parameters)
            if self._landline(parameters):
                self.deferred.skipped(row.key, self.owner, "skipped_landline", "a landline")
                return "skipped_landline", None, False
            if window is not None and not window.is_open(self.campaign.zones_of(parameters)):
                self.deferred.deferred(row.key, self.owner)  # a later run sends it
                return "deferred", None, False
            prepared = self.campaign.host.prepare(
                {"type": self.step_type, "parameters": parameters},
                connection=self.connection,
                keyed=True,
                checked=True,  # every row of the plan was checked before it was written
            )
        except OptedOutError as opted_out:  # never sent to: done
            self.deferred.skipped(row.key, self.owner, "opted_out", str(opted_out))
            return "opted_out", None, False
        except ComponentError:  # refused before sending: the row stays for a rerun
            self._release(row.key)
            return "unknown", None, False
        try:
            run_claimed(
                self.journal,
                claim,
                owner=self.owner,
                send=prepared.send,
                look_up=prepared.look_up,
                outcomes=self.deferred,
            )
        except RecordedRefusal as refused:
            return "failed", refused.code, False
        except KeyBusyError:
            return "elsewhere", None, False
        except KeyHeldError:
            return "held", None, False
        except JournalUnavailableError as trouble:  # nothing sent; trying again cannot help
            self.summary.journal_error = trouble.reason
            return "pending", None, False
        except UnrecordedError as trouble:  # sent; the next run looks it up first
            self.summary.journal_error = trouble.reason
            return "unknown", None, False
        except ComponentError as error:
            crowded = isinstance(error, RefusedError) and error.retry_later
            if refused_for_now(self.pacer, self.traffic.sender(parameters), error):
                return "again", None, crowded
            if isinstance(error, RefusedError):
                return "failed", getattr(error, "code", None), crowded
            return "unknown", None, crowded
        return "sent", None, False

    def _landline(self, parameters: Mapping[str, Any]) -> bool:
        """Whether the campaign skips landlines and this row's recipient is on one (looked up
        once per recipient, kept in the journal)."""
        lines = self.traffic.lines
        if not self.campaign.skip_landlines or lines is None:
            return False
        recipient = self.traffic.recipient(parameters)
        return is_landline(self.campaign.host, lines, self.connection, recipient)

    def _count(
        self, outcome: str, code: int | None, *, already: bool = False, settled: bool = False
    ) -> None:
        """Count one row's outcome and tell the progress."""
        with self._changed:
            summary = self.summary
            summary.already += already
            if outcome == "failed":
                summary.errors[str(code)] = summary.errors.get(str(code), 0) + 1
            counted = outcome if outcome in _COUNTED else "unknown"
            setattr(summary, counted, getattr(summary, counted) + 1)
            summary.elapsed = time.monotonic() - self.started
            if settled:
                self._busy -= 1
                self._changed.notify_all()
            self.progress(summary)


#: The outcomes a Summary counts by name.
#: States of a row done by an earlier run.
_DONE = ("sent", "failed", "held", "opted_out", "skipped_landline")
_COUNTED = (*_DONE, "unknown", "pending", "elsewhere", "deferred")
