"""Campaigns: one step sent to every row of a CSV, each recipient at most once, resumable.

Every row is checked before the first send. Each recipient (the ``To`` after substitution) is a
keyed step ``campaign/{ID}/{To}`` in the journal, so running the same campaign again resumes
it: what was sent or refused is not sent again, what a crash cut short is reconciled first.
Sends are paced per sender in segments per second and capped in concurrency; threads share one
Host (and its connection pool).
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

from twilio_component.errors import (
    ComponentError,
    KeyBusyError,
    RecordedRefusal,
    RefusedError,
    UnknownOutcomeError,
)
from twilio_component.host import Host
from twilio_component.journal import Journal
from twilio_component.workflow import resolve

__all__ = ["Campaign", "Row", "Summary", "read_rows", "report", "status"]

#: How often a plain progress line is printed when stderr is not a terminal.
PROGRESS_EVERY = 2.0
#: How many times one run tries a row refused for now (429, 21611) before leaving it pending.
RETRIES_LATER = 8


@dataclass(frozen=True, slots=True)
class Row:
    """One CSV row: its line number (the header is line 1) and its values by column."""

    line: int
    values: Mapping[str, str]


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
    already: int = 0
    interrupted: bool = False
    elsewhere: int = 0
    elapsed: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The JSON summary: counts, then how long it took and the error codes seen."""
        return {
            "campaign": self.campaign,
            "total": self.total,
            "sent": self.sent,
            "failed": self.failed,
            "unknown": self.unknown,
            "pending": self.pending,
            "sending_elsewhere": self.elsewhere,
            "duplicates": self.duplicates,
            "already_done": self.already,
            "seconds": round(self.elapsed, 3),
            "error_codes": self.errors,
            "interrupted": self.interrupted,
        }


def read_rows(text: str, source: str) -> tuple[list[str], list[Row]]:
    """The header and rows of CSV text (a UTF-8 BOM is dropped); ValueError when unusable."""
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header or not any(name.strip() for name in header):
        raise ValueError(f"{source}: the first line must name the columns (e.g. To,name)")
    names = [name.strip() for name in header]
    rows = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        values = {name: cells[i] for i, name in enumerate(names) if i < len(cells)}
        rows.append(Row(reader.line_num, values))
    return names, rows


class Campaign:
    """One campaign: its ID, the step template, the rows, and where it is journaled."""

    def __init__(
        self,
        host: Host,
        campaign_id: str,
        step: Mapping[str, Any],
        rows: Sequence[Row],
        columns: Sequence[str],
    ) -> None:
        self.host = host
        self.id = campaign_id
        self.step = step
        self.rows = rows
        self.columns = list(columns)
        #: Set when the run is interrupted; waits for a sender's turn should end on it.
        self.stopping = threading.Event()

    def key(self, recipient: str) -> str:
        """The journal key of one recipient of this campaign."""
        return f"campaign/{self.id}/{recipient}"

    def prepare(self) -> tuple[list[tuple[Row, dict[str, Any]]], int, list[str]]:
        """Every row's step, the number of duplicate recipients, and every problem (each
        naming its line); nothing is sent."""
        problems: list[str] = []
        template = self.step.get("parameters", {})
        for name in sorted(_row_references(template) - set(self.columns)):
            problems.append(
                f"step: ${{row.{name}}} names no column of the CSV "
                f"(its columns: {', '.join(self.columns)})"
            )
        if problems:
            return [], 0, problems
        steps: list[tuple[Row, dict[str, Any]]] = []
        seen: set[str] = set()
        duplicates = 0
        for row in self.rows:
            missing = [c for c in _row_references(template) if row.values.get(c) is None]
            if missing:
                problems.append(
                    f"line {row.line}: column {', '.join(map(repr, missing))} is missing "
                    "(the row has fewer values than the header)"
                )
                continue
            parameters = resolve(template, {"row": dict(row.values)})
            step = {"type": self.step.get("type"), "parameters": parameters}
            try:
                found = self.host.check_step(step)
            except ComponentError as error:
                problems.append(f"step: {error}")
                break
            if found:
                problems.extend(f"line {row.line}: {p}" for p in found)
                continue
            recipient = str(parameters.get("To", ""))
            if recipient in seen:
                duplicates += 1
                continue
            seen.add(recipient)
            steps.append((row, step))
        return steps, duplicates, problems

    def _attempt(
        self,
        step: dict[str, Any],
        connection: Mapping[str, Any],
        key: str,
        pace: Callable[[Mapping[str, Any]], None],
        later: Callable[[Mapping[str, Any], RefusedError], None],
        *,
        window: Window,
    ) -> tuple[str, int | None]:
        """Send one row's step; its outcome (sent, failed, pending, unknown) and error code.

        A refusal for now (429 after the retries, a full queue) slows or pauses the sender
        (``later``) and is tried again, a few times; then the row stays pending for a rerun.
        """
        for _ in range(RETRIES_LATER):
            pace(step["parameters"])
            if self.stopping.is_set():  # interrupted while waiting for its turn: not sent
                return "pending", None
            try:
                with window.slot() as slot:
                    try:
                        self.host.execute(step, connection=connection, key=key)
                    except RefusedError as refused:
                        if refused.retry_later:
                            slot.crowded()
                        raise
            except RecordedRefusal as refused:
                return "failed", refused.code
            except RefusedError as refused:
                if not refused.retry_later:
                    return "failed", getattr(refused, "code", None)
                later(step["parameters"], refused)
                continue
            except KeyBusyError:
                return "elsewhere", None
            except (UnknownOutcomeError, ComponentError):
                return "unknown", None
            return "sent", None
        return "pending", None

    def send(
        self,
        steps: Sequence[tuple[Row, dict[str, Any]]],
        connection: Mapping[str, Any],
        *,
        pace: Callable[[Mapping[str, Any]], None],
        later: Callable[[Mapping[str, Any], RefusedError], None],
        concurrency: int,
        progress: Callable[[Summary], None],
        duplicates: int = 0,
    ) -> Summary:
        """Send every prepared step (at most once per recipient); the counts of this run."""
        summary = Summary(self.id, total=len(steps), duplicates=duplicates)
        journal = self.host.journal
        journal.note(f"campaign/{self.id}", {"recipients": len(steps)})
        window = Window(concurrency)
        lock = threading.Lock()
        started = time.monotonic()

        def one(row_and_step: tuple[Row, dict[str, Any]]) -> None:
            _, step = row_and_step
            key = self.key(str(step["parameters"]["To"]))
            if self.stopping.is_set():
                return
            record = journal.get(key)
            outcome: str
            code: int | None = None
            if record is not None and record.state in ("sent", "failed"):
                outcome = "already"
            else:
                outcome, code = self._attempt(step, connection, key, pace, later, window=window)
            with lock:
                if outcome == "already" and record is not None:
                    summary.already += 1
                    outcome = record.state
                    code = record.error_code
                if outcome == "sent":
                    summary.sent += 1
                elif outcome == "pending":
                    summary.pending += 1
                elif outcome == "elsewhere":
                    summary.elsewhere += 1
                elif outcome == "failed":
                    summary.failed += 1
                    summary.errors[str(code)] = summary.errors.get(str(code), 0) + 1
                else:
                    summary.unknown += 1
                summary.elapsed = time.monotonic() - started
                progress(summary)

        pool = ThreadPoolExecutor(max_workers=max(1, concurrency))
        try:
            for future in [pool.submit(one, item) for item in steps]:
                future.result()
        except KeyboardInterrupt:
            # Rows not begun stay as they are in the journal (a rerun sends them); the ones in
            # flight finish and are recorded, so nothing is left half-known.
            self.stopping.set()
            summary.interrupted = True
            pool.shutdown(wait=True, cancel_futures=True)
        else:
            pool.shutdown()
        summary.elapsed = time.monotonic() - started
        return summary


def _row_references(value: Any) -> set[str]:
    """The columns ``${row.COLUMN}`` references in a step's parameters name."""
    from twilio_component.workflow import references

    return {ref.split(".", 1)[1] for ref in references(value) if ref.startswith("row.")}


def status(journal: Journal, campaign_id: str) -> dict[str, Any] | None:
    """The counts of a campaign by state, from the journal; None when it has no such
    campaign. Rows not reached yet count as pending."""
    states = journal.counts(f"campaign/{campaign_id}/")
    size = (journal.noted(f"campaign/{campaign_id}") or {}).get("recipients")
    if not states and size is None:
        return None
    counts = {"sent": 0, "failed": 0, "unknown": 0, "pending": 0, "held": 0}
    for state, count in states.items():
        shown = "unknown" if state == "claimed" else state
        counts[shown] = counts.get(shown, 0) + count
    recorded = sum(states.values())
    total = max(recorded, int(size or 0))
    counts["pending"] += total - recorded
    return {"campaign": campaign_id, "total": total, **counts}


def report(journal: Journal, campaign_id: str, out: TextIO) -> int:
    """Write one CSV row per recipient (to, state, sid, error_code, status); return the count."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["to", "state", "sid", "error_code", "status"])
    count = 0
    for record in journal.records(f"campaign/{campaign_id}/"):
        output = record.output or {}
        writer.writerow(
            [
                record.parameters.get("To", ""),
                record.state,
                output.get("sid") or "",
                "" if record.error_code is None else record.error_code,
                output.get("status") or "",
            ]
        )
        count += 1
    return count


def plain_progress(err: TextIO, total: int) -> Callable[[Summary], None]:
    """A progress reporter: a tqdm bar when ``err`` is a terminal and tqdm is installed
    (``pip install 'twilio-component[progress]'``), else one plain line every few seconds."""
    if err.isatty():
        try:
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            bar = tqdm(total=total, file=err, unit="msg", dynamic_ncols=True)

            def advance(summary: Summary) -> None:
                done = _done(summary)
                bar.update(done - bar.n)
                bar.set_postfix(sent=summary.sent, failed=summary.failed, unknown=summary.unknown)
                if done >= total:
                    bar.close()

            return advance
    last = [0.0]

    def line(summary: Summary) -> None:
        done = _done(summary)
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY or done >= total:
            last[0] = now
            err.write(
                f"campaign {summary.campaign}: {done}/{total} done, {summary.sent} sent, "
                f"{summary.failed} failed, {summary.unknown} unknown, {summary.pending} left "
                f"for a rerun, {summary.elapsed:.1f} s\n"
            )
            err.flush()

    return line


def _done(summary: Summary) -> int:
    return summary.sent + summary.failed + summary.unknown + summary.pending + summary.elsewhere


class Window:
    """How many requests a campaign keeps in flight: up to ``largest``, halved each time the
    service says too many (429) and grown back by about one per window of answers without one, so a
    limit the service does not publish is found rather than hammered."""

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
