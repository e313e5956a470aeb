"""The task: one keyed step, paced through Redis, sent only when the journal says it may be.

A delivery of the task may be a second one (late acks, a killed worker, a visibility timeout,
``campaign resume``): the journal's claim is what decides, so a second delivery returns what
the first recorded, or waits while another worker holds the key. Every wait (the sender's next
slot, a 429, a busy key) is handed back to Celery as a countdown: the task is retried later and
its worker slot goes to another task meanwhile. Messages and outcomes are JSON.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypedDict

from celery import Task, shared_task

from twilio_component.campaign.hours import SendWindow
from twilio_component.campaign.lines import is_landline
from twilio_component.consent import OptedOutError, record_opted_out
from twilio_component.distributed.window import TASK_NAME, top_up
from twilio_component.errors import (
    ComponentError,
    KeyBusyError,
    KeyConflictError,
    KeyHeldError,
    NotSentError,
    RecordedRefusal,
    RefusedError,
    UnknownOutcomeError,
)
from twilio_component.host import Host
from twilio_component.journal.keyed import mark_unsent
from twilio_component.journal.store import Record
from twilio_component.pacing import refused_for_now

__all__ = ["TASK_NAME", "CheckedTask", "Outcome", "Pace", "pace_of", "run_step"]

#: A wait shorter than this is slept in place: a retry would cost more than it saves.
READY = 0.02
#: A task that starts this late after its booked slot books a new one rather than send in a
#: bunch with the tasks after it (what keeps every second within the sender's rate).
LATE = 0.05
#: How often a refusal for now (429, a full queue, a request that never left) is tried again.
RETRIES_LATER = 8
#: How often a key whose outcome is unknown is looked up again before it is left unknown.
RETRIES_UNKNOWN = 3
#: The longest countdown asked for, in seconds (below the broker's visibility timeout).
LONGEST_WAIT = 60.0
#: Seconds a place in flight is held at most (a killed worker's place comes back after it).
IN_FLIGHT_LEASE = 120.0

log = logging.getLogger(__name__)


class Pace(TypedDict, total=False):
    """How a step is paced: its sender, its cost in segments, the sender's rate, and the cap
    on requests in flight across every worker (0 or absent: none)."""

    sender: str
    cost: float
    mps: float
    cap: int


class Outcome(TypedDict, total=False):
    """What one delivery of the task ended with (also in the journal)."""

    key: str
    state: str
    output: dict[str, Any]
    error_code: int | None
    error: str


def pace_of(sender: str, cost: float, mps: float, cap: int = 0) -> Pace:
    """The pace of a step sent from ``sender``, costing ``cost`` segments, at ``mps``."""
    return {"sender": sender, "cost": float(cost), "mps": float(mps), "cap": int(cap)}


class Worker:
    """What a worker process holds across tasks: one Host (its journal and connection pool),
    its components' connections, and the shared pacer; built on the first task, once per
    process."""

    _lock = threading.Lock()
    _current: tuple[int, Worker] | None = None

    def __init__(self, environ: Mapping[str, str], broker_url: str) -> None:
        from twilio_component.distributed.app import CONNECTIONS_VARIABLE, JOURNAL_VARIABLE
        from twilio_component.distributed.shared_pace import SharedPacer
        from twilio_component.settings import HostSettings, RetryPolicy

        journal = environ.get(JOURNAL_VARIABLE)
        if not journal:
            raise ComponentError(
                f"the worker has no journal: set {JOURNAL_VARIABLE} (e.g. postgresql://…) or run "
                "twilio-component worker --journal …"
            )
        # One attempt per delivery: a refusal for now comes back here and is retried as a
        # countdown. Each component reads its own options from the environment.
        settings = HostSettings(environ=environ, journal=journal, retry=RetryPolicy(max_attempts=1))
        self.host = Host.load(settings)
        self.environ = environ
        self.files = _connection_files(environ.get(CONNECTIONS_VARIABLE, ""))
        self.pacer = SharedPacer(broker_url)
        self._windows: dict[str, SendWindow | None] = {}

    def hold_back(
        self,
        campaign: str,
        key: str,
        step: Mapping[str, Any],
        later: Callable[[float], Exception],
    ) -> str | None:
        """A campaign's row not sent now, recorded in the journal: ``skipped_landline`` when
        its recipient is on a landline; ``later(seconds)`` raised when the send window is
        closed for them (deferred: a countdown to it, not a busy worker); None when it may be
        sent (an opted-out recipient is told by its send)."""
        component = self.host.component_of(step.get("type"))
        parameters = step.get("parameters", {})
        try:
            self.host.guard(component, parameters)
        except OptedOutError:
            return None
        noted = self.host.journal.noted(f"campaign/{campaign}") or {}
        lines = component.traffic.lines if component.traffic is not None else None
        if noted.get("skip_landlines") and lines is not None and component.traffic is not None:
            recipient = component.traffic.recipient(parameters)
            if is_landline(self.host, lines, self.connection_for(str(step["type"])), recipient):
                mark_unsent(self.host.journal, key, step, "skipped_landline", "a landline")
                return "skipped_landline"
        wait = self.closed_for(campaign, step)
        if not wait:
            return None
        mark_unsent(self.host.journal, key, step, "deferred")
        raise later(wait)

    def closed_for(self, campaign: str, step: Mapping[str, Any]) -> float:
        """Seconds until the campaign's send window opens for the step's recipient (0: open,
        or no window); a window that never opens for them is looked at again in an hour."""
        if campaign not in self._windows:
            noted = self.host.journal.noted(f"campaign/{campaign}") or {}
            text = noted.get("send_window")
            self._windows[campaign] = (
                SendWindow.parse(text, noted.get("timezone")) if isinstance(text, str) else None
            )
        window = self._windows[campaign]
        traffic = self.host.component_of(step.get("type")).traffic
        address = traffic.address if traffic is not None else None
        if window is None or address is None:
            return 0.0
        wait = window.opens_in(window.zones_of(str(step.get("parameters", {}).get(address))))
        return 3600.0 if wait is None else wait

    @classmethod
    def current(cls, broker_url: str) -> Worker:
        """This process's worker state (a forked child builds its own)."""
        with cls._lock:
            if cls._current is None or cls._current[0] != os.getpid():
                cls._current = (os.getpid(), cls(os.environ, broker_url))
            return cls._current[1]

    def connection_for(self, step_type: str) -> Mapping[str, Any]:
        """The connection of the component that runs ``step_type``: from its file (worker
        --connection), else from the environment when the component reads it there."""
        component = self.host.component_of(step_type)
        descriptor = component.descriptor
        for name in (descriptor.name, descriptor.type):
            if name in self.files:
                return self.files[name]
        if component.environment is not None:
            return component.environment.read(self.environ)
        raise ComponentError(
            f"{step_type}: the worker has no connection for {descriptor.name}; start it with "
            f"--connection {descriptor.name}=FILE.json"
        )


def _connection_files(listing: str) -> dict[str, dict[str, Any]]:
    """The connections named by ``{"component": "path/to/connection.json", …}``."""
    if not listing:
        return {}
    found = {}
    for name, path in json.loads(listing).items():
        with open(path, encoding="utf-8") as file:
            found[name] = json.load(file)
    return found


class CheckedTask(Task[Any, Any]):
    """The task's class: Celery's, but a message the task cannot run (undecodable, of the wrong
    shape, with arguments it does not take) is dropped with one log line rather than crash the
    worker (``messages.strategy``)."""

    Strategy = "twilio_component.distributed.messages:strategy"


@shared_task(
    base=CheckedTask,
    bind=True,
    name=TASK_NAME,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
    ignore_result=True,
)
def run_step(
    self: Task[Any, Any],
    step: dict[str, Any],
    key: str,
    *,
    pace: Pace | None = None,
    slot: float | None = None,
    tries: int = 0,
    campaign: str | None = None,
) -> Outcome:
    """Send ``step`` at most once for ``key``; its outcome (the journal holds it too). A row
    of a ``campaign`` that ends here hands the broker the campaign's next row."""
    worker = Worker.current(str(self.app.conf.broker_url))

    def later(
        countdown: float,
        *,
        keep_slot: float | None = None,
        more: int = 0,
        longest: float = LONGEST_WAIT,
    ) -> Exception:
        kwargs = {"step": step, "key": key, "pace": pace, "slot": keep_slot, "tries": tries + more}
        kwargs |= {"campaign": campaign} if campaign is not None else {}
        wait = min(longest, max(0.0, countdown))
        return self.retry(kwargs=kwargs, countdown=wait, max_retries=None)

    def settle(outcome: Outcome) -> Outcome:
        if campaign is not None:
            _next_row(self.app, worker, campaign)
        return outcome

    journal = worker.host.journal
    try:
        recorded = journal.get(key)
    except journal.transient:
        raise later(1.0 + random.random()) from None  # the journal decides: wait for it
    done = _done_before(recorded, key)
    if done is not None:
        # Delivered again after it was done (a resume, a redelivery): no slot is spent on it,
        # and no row of its campaign is handed out in its place (its first delivery did).
        return done
    skipped = (
        worker.hold_back(
            campaign, key, step, lambda wait: later(wait, keep_slot=slot, longest=wait)
        )
        if campaign is not None
        else None
    )
    if skipped is not None:  # a landline
        return settle({"key": key, "state": skipped})
    token = _take_turn(worker, pace, slot, later) if pace else None
    try:
        connection = worker.connection_for(step["type"])
        output = worker.host.execute(step, connection=connection, key=key)
    except journal.transient as down:
        # The journal could not be reached before anything was sent (a claim is the first
        # thing a keyed step does): wait for it, however long; it is what decides.
        log.warning("%s: the journal cannot be reached (%s); trying again", key, type(down))
        raise later(1.0 + random.random()) from None
    except RecordedRefusal as refused:
        failed: Outcome = {"key": key, "state": "failed", "error_code": refused.code}
        return settle({**failed, "error": str(refused)})
    except KeyBusyError:
        # Another delivery holds the key right now: look again when it has likely finished.
        raise later(2.0 + random.random(), more=0) from None
    except KeyHeldError as held:
        return settle({"key": key, "state": "held", "error": str(held)})
    except KeyConflictError as conflict:
        return settle({"key": key, "state": "conflict", "error": str(conflict)})
    except OptedOutError as opted_out:  # before its claim: recorded as done, never sent
        record_opted_out(journal, key, step, opted_out)
        return settle({"key": key, "state": "opted_out", "error": str(opted_out)})
    except (RefusedError, NotSentError) as refused:
        sender = pace["sender"] if pace else ""
        if not refused_for_now(_SharedPace(worker, pace), sender, refused):  # for good
            code = getattr(refused, "code", None)
            return settle(
                {"key": key, "state": "failed", "error_code": code, "error": str(refused)}
            )
        if tries + 1 >= RETRIES_LATER:
            log.warning("%s: refused for now %d times; left pending for a resume", key, tries + 1)
            return settle({"key": key, "state": "pending", "error": str(refused)})
        raise later(min(LONGEST_WAIT, 0.5 * 2**tries) * (0.5 + random.random()), more=1) from None
    except UnknownOutcomeError as unknown:
        if tries + 1 >= RETRIES_UNKNOWN:
            return settle({"key": key, "state": "unknown", "error": str(unknown)})
        raise later(5.0, more=1) from None  # the next claim looks it up before anything else
    except ComponentError as error:  # it cannot run here (its connection, its handler...)
        log.warning("%s: %s", key, str(error).splitlines()[0] if str(error) else error)
        return settle({"key": key, "state": "error", "error": str(error)})
    finally:
        if token is not None:
            worker.pacer.leave(token)
    return settle({"key": key, "state": "sent", "output": output})


def _done_before(recorded: Record | None, key: str) -> Outcome | None:
    """The outcome of a key an earlier delivery finished, or None."""
    if recorded is not None and recorded.state == "sent" and recorded.output is not None:
        return {"key": key, "state": "sent", "output": recorded.output}
    if recorded is not None and recorded.state in ("failed", "opted_out"):
        return {"key": key, "state": recorded.state, "error_code": recorded.error_code}
    return None


def _next_row(app: Any, worker: Worker, campaign: str) -> None:
    """Enqueue the campaign's next row in place of the one that ended (the window stays
    full); if the journal or the broker fails, ``campaign resume`` fills the window again."""
    try:
        top_up(app, worker.host.journal, campaign, 1)
    except Exception as error:  # the row itself is done; only the window is one short
        log.warning("campaign %s: the next row was not enqueued (%s)", campaign, error)


def _take_turn(
    worker: Worker, pace: Pace, slot: float | None, later: Callable[..., Exception]
) -> str | None:
    """Wait for the sender's slot and a place in flight, handing long waits back to Celery
    (``later`` makes the retry to raise); the place's token, when there is a cap."""
    on_time = slot is not None and time.time() <= slot + LATE
    if not on_time:
        wait = worker.pacer.reserve(pace["sender"], pace["cost"], pace["mps"])
        if wait > READY:
            raise later(wait, keep_slot=time.time() + wait)
        slot = time.time() + wait
    early = (slot or 0.0) - time.time()
    if early > 0:
        time.sleep(min(early, READY))
    if not pace.get("cap"):
        return None
    token = worker.pacer.enter(pace["cap"], IN_FLIGHT_LEASE)
    if token is None:  # every place in flight is taken: come back soon, for a new slot
        raise later(0.05 + random.random() * 0.1)
    return token


class _SharedPace:
    """One step's sender's pace in Redis, as the refused-for-now policy tells it (a step sent
    without a pace tells nothing)."""

    def __init__(self, worker: Worker, pace: Pace | None) -> None:
        self.worker = worker
        self.pace = pace

    def slow_down(self, sender: str) -> None:
        """Halve the sender's rate for every worker."""
        if self.pace:
            self.worker.pacer.slow_down(sender, self.pace["mps"])

    def pause(self, sender: str) -> None:
        """Stop the sender for every worker for a while."""
        if self.pace:
            self.worker.pacer.pause(sender)
