"""Clocks the sandbox reads time from: the real one, and a manual one that tests drive."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real time: message statuses then advance on their own in the background."""

    def now(self) -> datetime:
        """The current time in UTC."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to; the sandbox runs due status changes as it moves.

    Starts at `start` (default: the real time now, whole seconds), so that `SendAt` checks
    against "now" behave as they would with Twilio.
    """

    def __init__(self, start: datetime | None = None) -> None:
        if start is None:
            start = datetime.now(UTC).replace(microsecond=0)
        elif start.tzinfo is None:
            raise ValueError("ManualClock start must be timezone-aware (e.g. tzinfo=UTC)")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()
        self._listeners: list[Callable[[datetime], object]] = []

    def __repr__(self) -> str:
        return f"ManualClock({self.now().isoformat()!r})"

    def now(self) -> datetime:
        """The clock's current time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds` and let every subscribed sandbox catch up."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go back: advance({seconds!r})")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            now = self._now
            listeners = list(self._listeners)
        for listener in listeners:
            listener(now)

    def subscribe(self, listener: Callable[[datetime], object]) -> None:
        """Call `listener(now)` after each advance (a sandbox uses this to run due steps)."""
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[datetime], object]) -> None:
        """Stop calling `listener`; unknown listeners are ignored."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)
