"""Pacing sends per sender in units per second (a component says what a step costs), with a
cap on requests in flight; and the one policy for a refusal that is about now, not the request.

One rule books every slot, here in one process and in Redis for workers
(``distributed.shared_pace`` runs the same arithmetic as a script): a sender's schedule is the
time it is booked to; a step goes at ``max(booked, now)`` and books the sender until
``cost / rate`` seconds after that. An idle sender starts again with one step, never a burst,
so in any one second a sender's steps cost at most its rate plus one step.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from twilio_component.errors import ComponentError, NotSentError, RefusedError

#: After slow-downs a sender's rate never falls below this share of its configured rate.
SLOWEST_SHARE = 0.1
#: Each second without a slow-down gives back this share of the configured rate.
RECOVERY_SHARE_PER_SECOND = 0.1
#: How long `Pacer.pause` stops a sender unless told (its queue at the service is full).
DEFAULT_PAUSE = 60.0

_NEGLIGIBLE = 1e-9


@dataclass(frozen=True)
class SenderPace:
    """One sender's pace, as `Pacer.stats` reports it."""

    #: Units per second the sender is paced at without any slow-down.
    configured: float
    #: Units per second now: lower than `configured` for a while after a slow-down.
    rate: float
    #: Seconds left of a pause; 0 when not paused.
    paused: float
    #: Seconds a step reserved now would wait.
    backlog: float


class _Sender:
    """One sender's schedule: the time it is booked to, and its rate after slow-downs."""

    __slots__ = ("booked", "configured", "paused_until", "slowed", "slowed_at")

    def __init__(self, configured: float, booked: float) -> None:
        self.configured = configured
        self.booked = booked
        self.paused_until = -math.inf
        self.slowed: float | None = None
        self.slowed_at = 0.0

    def rate(self, now: float) -> float:
        if self.slowed is None:
            return self.configured
        recovered = self.slowed + RECOVERY_SHARE_PER_SECOND * self.configured * (
            now - self.slowed_at
        )
        if recovered >= self.configured:
            self.slowed = None
            return self.configured
        return recovered


def book(booked: float, now: float, rate: float, cost: float) -> tuple[float, float]:
    """The one booking rule: ``(booked to after this step, seconds to wait before it)``.

    A step goes at ``max(booked, now)`` and keeps the sender booked ``cost / rate`` seconds
    more; the Lua script of ``distributed.shared_pace`` computes exactly this in Redis.
    """
    start = max(booked, now)
    return start + cost / rate, start - now


class Pacer:
    """Paces steps per sender, in units per second; thread-safe.

    Each sender (whatever a component says a step spends: a phone number, a service's ID) is
    paced at ``mps`` when given, else at ``rate(sender)`` (the component's default), else at 1.
    `reserve` books the sender's next slot by ``book`` and returns how long the caller must
    wait before sending (a Celery countdown, say); `wait` books it and sleeps that long. Every
    booking is made under one lock, so any number of threads waiting on one sender keep to
    its pace. `slot` caps the requests in flight across all senders at `max_concurrent`.

    After a refusal for now (`refused_for_now`), `slow_down` halves the sender's rate (never
    below 10% of its configured rate), which then recovers linearly: each second without
    another gives back 10% of the configured rate; `pause` stops the sender for a while (60 s
    by default). Both change the reservations to come, not those already handed out.

    `clock` (seconds, never going back) and `sleep` can be replaced, e.g. in tests.
    """

    def __init__(
        self,
        mps: float | None = None,
        *,
        rate: Callable[[str], float] | None = None,
        max_concurrent: int = 8,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if mps is not None and not _positive(mps):
            raise ValueError(f"mps must be a positive number of units per second, not {mps!r}")
        if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int):
            raise ValueError(f"max_concurrent must be an integer >= 1, not {max_concurrent!r}")
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be an integer >= 1, not {max_concurrent!r}")
        self._mps = None if mps is None else float(mps)
        self._rate = rate
        self._max_concurrent = max_concurrent
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._senders: dict[str, _Sender] = {}
        self._slots = threading.BoundedSemaphore(max_concurrent)

    @property
    def max_concurrent(self) -> int:
        """How many requests `slot` lets be in flight at once."""
        return self._max_concurrent

    def configured_mps(self, sender: str) -> float:
        """The rate `sender` is paced at without any slow-down, in units per second."""
        if self._mps is not None:
            return self._mps
        return float(self._rate(sender)) if self._rate is not None else 1.0

    def _sender(self, sender: str, now: float) -> _Sender:
        state = self._senders.get(sender)
        if state is None:
            state = _Sender(self.configured_mps(sender), booked=now)
            self._senders[sender] = state
        return state

    def reserve(self, sender: str, cost: float = 1.0) -> float:
        """Book a step of ``cost`` units from `sender`; return the seconds to wait first.

        Never sleeps. The slot is booked at once: the caller must send after the returned
        delay (0 when it may send now), or the sender's pace is lost.
        """
        if not _positive(cost):
            raise ValueError(f"cost must be a positive number of units, not {cost!r}")
        with self._lock:
            now = self._clock()
            state = self._sender(sender, now)
            state.booked, delay = book(state.booked, now, state.rate(now), float(cost))
            # Less than a nanosecond is rounding, not a wait.
            return delay if delay > _NEGLIGIBLE else 0.0

    def wait(self, sender: str, cost: float = 1.0) -> float:
        """Book a step of ``cost`` units from `sender` and sleep until it may go; return the
        seconds slept (0 when it may go at once)."""
        delay = self.reserve(sender, cost)
        if delay > 0:
            self._sleep(delay)
        return delay

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the `max_concurrent` request slots shared by every sender."""
        with self._slots:
            yield

    def slow_down(self, sender: str) -> float:
        """Halve `sender`'s rate (never below 10% of its configured rate); it then recovers
        by 10% of the configured rate per second. Returns the new rate."""
        with self._lock:
            now = self._clock()
            state = self._sender(sender, now)
            state.slowed = max(SLOWEST_SHARE * state.configured, state.rate(now) / 2)
            state.slowed_at = now
            return state.slowed

    def pause(self, sender: str, seconds: float = DEFAULT_PAUSE) -> None:
        """Give `sender` no slot for `seconds` (its queue at the service is full).

        A reservation during the pause waits out what is left of it. A shorter pause never
        cuts a longer one short.
        """
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not math.isfinite(seconds)
            or seconds < 0
        ):
            raise ValueError(f"seconds must be a number >= 0, not {seconds!r}")
        with self._lock:
            now = self._clock()
            state = self._sender(sender, now)
            until = now + seconds
            state.paused_until = max(state.paused_until, until)
            state.booked = max(state.booked, until)

    def stats(self) -> dict[str, SenderPace]:
        """Every sender seen so far and its pace now."""
        with self._lock:
            now = self._clock()
            return {
                sender: SenderPace(
                    configured=state.configured,
                    rate=state.rate(now),
                    paused=max(0.0, state.paused_until - now),
                    backlog=max(0.0, state.booked - now),
                )
                for sender, state in self._senders.items()
            }


def _positive(value: object) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and value > 0
    )


class Pace(Protocol):
    """What reacts to a refusal for now: a Pacer, or the workers' shared pace."""

    def slow_down(self, sender: str) -> object:
        """Slow the sender down (the service said too many requests)."""

    def pause(self, sender: str) -> object:
        """Stop the sender for a while (its queue at the service is full)."""


def refused_for_now(pace: Pace, sender: str, error: ComponentError) -> bool:
    """The one policy for a refusal that is about now, not the request: whether the step may
    be tried again later, having told the sender's pace.

    A refusal the service means for now (``RefusedError.retry_later``) pauses the sender when
    its queue is full (``pause_sender``) and slows it down otherwise; a request that never
    left (NotSentError) is tried again as it is. Anything else is not for now.
    """
    if isinstance(error, RefusedError) and error.retry_later:
        if error.pause_sender:
            pace.pause(sender)
        else:
            pace.slow_down(sender)
        return True
    return isinstance(error, NotSentError)


@dataclass(frozen=True, slots=True)
class LineTypes:
    """How a component tells a number's line type: the step that looks it up (a read-only
    action of its own) and the type in that step's output."""

    step: Callable[[str], Mapping[str, Any]]
    type_of: Callable[[Mapping[str, Any]], str | None]
    #: The types that cannot receive a text.
    landlines: frozenset[str] = frozenset({"landline"})


@dataclass(frozen=True, slots=True)
class Traffic:
    """How a component's steps count in a campaign and against a sender's pace.

    ``recipient`` is who a step goes to (a campaign sends to each once); ``sender`` whose pace
    it spends; ``cost`` how much of it, in units (a message's segments, say); ``rate`` a
    sender's default rate in units per second. ``address`` names the parameter holding the
    recipient's phone number, which a campaign with a default region reads as people write it
    and sends in E.164 (None: the component's steps take no such number). ``lines`` tells a
    recipient's line type, for campaigns that skip landlines (None: it cannot).
    """

    recipient: Callable[[Mapping[str, Any]], str]
    sender: Callable[[Mapping[str, Any]], str]
    cost: Callable[[Mapping[str, Any]], float]
    rate: Callable[[str], float]
    address: str | None = None
    lines: LineTypes | None = None
