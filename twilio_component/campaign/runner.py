"""A campaign sent from this machine: threads share one Host, paced per sender, capped in
flight, each row's outcome counted; a rerun resumes (the journal decides each row)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from twilio_component.campaign.plan import Campaign, Planned
from twilio_component.errors import (
    ComponentError,
    JournalUnavailableError,
    KeyBusyError,
    KeyHeldError,
    RecordedRefusal,
    RefusedError,
    UnrecordedError,
)
from twilio_component.pacing import Pacer, refused_for_now

__all__ = ["DEFAULT_CONCURRENCY", "LATE_WAKE", "RETRIES_LATER", "Summary", "Window", "send"]

#: How many times one run tries a row refused for now before leaving it pending.
RETRIES_LATER = 8
#: Seconds after its slot a thread may still send; later, it books a new slot.
LATE_WAKE = 0.1
#: Requests a campaign keeps in flight unless told.
DEFAULT_CONCURRENCY = 32


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
        return self.sent + self.failed + self.unknown + self.pending + self.elsewhere + self.held

    @property
    def left(self) -> int:
        """Rows not finished: unknown, refused for now, sent elsewhere now, or held."""
        return self.unknown + self.pending + self.elsewhere + self.held

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
    steps: Sequence[Planned],
    connection: Mapping[str, Any],
    *,
    mps: float | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Callable[[Summary], None] = lambda summary: None,
    duplicates: int = 0,
) -> Summary:
    """Send every prepared step (at most once per recipient); the counts of this run.

    Each sender is paced at ``mps`` units a second (its component's default rate when None)
    and at most ``concurrency`` requests are in flight. A KeyboardInterrupt stops it soon:
    rows not begun stay as they are (a rerun sends them), rows in flight finish and are
    recorded, and the summary says ``interrupted``.
    """
    run = _Run(campaign, connection, mps=mps, concurrency=concurrency, progress=progress)
    run.summary.total, run.summary.duplicates = len(steps), duplicates
    campaign.record(steps)
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency))
    try:
        for future in [pool.submit(run.one, item) for item in steps]:
            future.result()
    except KeyboardInterrupt:
        # Rows not begun stay as they are in the journal (a rerun sends them); the ones in
        # flight finish and are recorded, so nothing is left half-known.
        campaign.stopping.set()
        run.summary.interrupted = True
        pool.shutdown(wait=True, cancel_futures=True)
        run.summary.pending += run.summary.total - run.summary.done  # the rows not reached
    else:
        pool.shutdown()
    run.summary.elapsed = time.monotonic() - run.started
    return run.summary


class _Run:
    """One run of a campaign from this machine: its pace, its window and its counts."""

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
        self.pacer = Pacer(mps, rate=self.traffic.rate, max_concurrent=max(1, concurrency))
        self.window = Window(concurrency)
        self.progress = progress
        self.summary = Summary(campaign.id, total=0)
        self.journal = campaign.host.journal
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def pace(self, parameters: Mapping[str, Any]) -> None:
        """Wait for the sender's slot (or an interrupt)."""
        sender, cost = self.traffic.sender(parameters), self.traffic.cost(parameters)
        stopping = self.campaign.stopping
        while True:
            delay = self.pacer.reserve(sender, cost)
            due = time.monotonic() + delay
            if delay > 0:
                stopping.wait(delay)  # its turn, or an interrupt, whichever comes first
            # A thread that woke well after its slot (a busy machine) books another rather
            # than send in a bunch with the threads behind it.
            if stopping.is_set() or time.monotonic() <= due + LATE_WAKE:
                return

    def attempt(self, step: dict[str, Any], key: str) -> tuple[str, int | None]:
        """One row's outcome (sent, failed, pending, elsewhere, unknown) and error code.

        A refusal for now slows or pauses the sender and is tried again, a few times; then
        the row stays pending for a rerun.
        """
        parameters = step["parameters"]
        for _ in range(RETRIES_LATER):
            self.pace(parameters)
            if self.campaign.stopping.is_set():  # interrupted while waiting: not sent
                return "pending", None
            try:
                with self.window.slot() as slot:
                    try:
                        self.campaign.host.execute(step, connection=self.connection, key=key)
                    except RefusedError as refused:
                        if refused.retry_later:
                            slot.crowded()
                        raise
            except RecordedRefusal as refused:
                return "failed", refused.code
            except KeyBusyError:
                return "elsewhere", None
            except KeyHeldError:
                return "held", None
            except JournalUnavailableError as trouble:  # nothing sent; trying again cannot help
                self.summary.journal_error = trouble.reason
                return "pending", None
            except UnrecordedError as trouble:  # sent; the next run looks it up first
                self.summary.journal_error = trouble.reason
                return "unknown", None
            except ComponentError as error:
                if refused_for_now(self.pacer, self.traffic.sender(parameters), error):
                    continue
                if isinstance(error, RefusedError):
                    return "failed", getattr(error, "code", None)
                return "unknown", None
            return "sent", None
        return "pending", None

    def outcome_of(self, step: dict[str, Any], key: str) -> tuple[str, int | None, bool]:
        """A row's outcome, error code and whether an earlier run had it: from the journal
        when the row is done, else from sending it now."""
        try:
            record = self.journal.get(key)
        except self.journal.errors:
            return "pending", None, False  # nothing was sent; a rerun reads it again
        if record is not None and record.state in ("sent", "failed"):
            return str(record.state), record.error_code, True
        outcome, code = self.attempt(step, key)
        return outcome, code, False

    def one(self, planned: Planned) -> None:
        """Send one row unless the journal says it is done; count its outcome."""
        _, step = planned
        if self.campaign.stopping.is_set():
            return
        key = self.campaign.key(self.traffic.recipient(step["parameters"]))
        outcome, code, already = self.outcome_of(step, key)
        with self._lock:
            summary = self.summary
            summary.already += already
            if outcome == "failed":
                summary.errors[str(code)] = summary.errors.get(str(code), 0) + 1
            counted = outcome if outcome in _COUNTED else "unknown"
            setattr(summary, counted, getattr(summary, counted) + 1)
            summary.elapsed = time.monotonic() - self.started
            self.progress(summary)


#: The outcomes a Summary counts by name.
_COUNTED = ("sent", "failed", "unknown", "pending", "elsewhere", "held")


class Window:
    """How many requests a campaign keeps in flight: up to ``largest``, halved each time the
    service says too many (429) and grown back by about one per window of answers without one,
    so a limit the service does not publish is found rather than hammered."""

    def __init__(self, largest: int) -> None:
        self.largest = max(1, largest)
        self.size = float(self.largest)
        self.in_flight = 0
        self._ready = threading.Condition()

    @contextmanager
    def slot(self) -> Iterator[_Slot]:
        """Wait for room, hold one request's place, and learn from how it went."""
        with self._ready:
            while self.in_flight >= max(1, int(self.size)):
                self._ready.wait()
            self.in_flight += 1
        slot = _Slot()
        try:
            yield slot
        finally:
            with self._ready:
                self.in_flight -= 1
                if slot.too_many:
                    self.size = max(1.0, self.size / 2)
                else:
                    self.size = min(float(self.largest), self.size + 1 / self.size)
                self._ready.notify_all()


class _Slot:
    too_many = False

    def crowded(self) -> None:
        """The service answered that too many requests are in flight."""
        self.too_many = True
