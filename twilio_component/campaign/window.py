"""How many requests a campaign keeps in flight, found as it goes from how fast answers come.

The window starts at one request and grows by one with each answer that came about as fast as
the fastest recent one (nothing is queueing: the window doubles each round trip, up to its
largest); it shrinks by one with each answer much slower than that (requests wait somewhere:
at the service, or here for the processor, and more in flight would only add waiting); and it
halves when the service answers that too many requests are in flight (a 429). Against a
service answering in 200 ms it opens to its largest within a second; against a sandbox on the
same machine it stays at two or three, which sends as fast and spends far less per row.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["FAST", "SLOW", "Window"]

#: An answer within this many times the fastest recent one shows nothing queueing: grow.
FAST = 1.5
#: An answer slower than this many times the fastest recent one shows queueing: shrink.
SLOW = 2.5
#: The fastest answer is the fastest of the last one or two periods of this many seconds; at
#: each new period the window halves, so that it is measured again at a lighter load (the path
#: to the service may have changed, and a window grown too far hides how fast it can be).
MEMORY = 10.0
#: Weight of the newest answer in the smoothed answer time.
SMOOTHING = 0.1


class Window:
    """Places for requests in flight: ``take`` one before a request, ``give_back`` it after,
    with how long the answer took. Thread-safe."""

    def __init__(
        self, largest: int, *, initial: int = 1, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.largest = max(1, largest)
        self.size = float(min(self.largest, max(1, initial)))
        self.in_flight = 0
        self._clock = clock
        self._ready = threading.Condition()
        self._wanted = 0  # free places the one waiting needs before it is woken
        self._period = clock()
        self._earlier: float | None = None  # the fastest answer of the period before
        self._now: float | None = None  # the fastest answer of this period
        self._smoothed: float | None = None

    @property
    def free(self) -> int:
        """Places free now."""
        return max(1, int(self.size)) - self.in_flight

    def take(self, *, block: bool, room: int = 1) -> bool:
        """Hold one request's place; False when none is free and not ``block``. A blocked
        caller is woken once ``room`` places are free (fewer when the window is smaller), so
        a feeder refills a batch at a time rather than one place per wake-up."""
        with self._ready:
            while self.free < 1:
                if not block:
                    return False
                self._wanted = max(1, min(room, int(self.size)))
                self._ready.wait()
            self.in_flight += 1
            return True

    def give_back(self, *, crowded: bool, latency: float | None = None) -> None:
        """Give a place back, learning from its request: ``crowded`` (the service said too
        many requests) and how many seconds the answer took (None: no answer to learn from)."""
        with self._ready:
            self.in_flight -= 1
            if crowded:
                self.size = max(1.0, self.size / 2)
            elif latency is not None:
                self._learn(latency)
            # The window may have shrunk since the waiter asked for room: never ask for more
            # than it holds.
            if self._wanted and self.free >= min(self._wanted, max(1, int(self.size))):
                self._wanted = 0
                self._ready.notify_all()

    def _learn(self, latency: float) -> None:
        now = self._clock()
        if now - self._period >= MEMORY:
            self._period, self._earlier, self._now = now, self._now, None
            self.size = max(1.0, self.size / 2)
        self._now = latency if self._now is None else min(self._now, latency)
        fastest = self._now if self._earlier is None else min(self._now, self._earlier)
        smoothed = self._smoothed
        smoothed = latency if smoothed is None else smoothed + SMOOTHING * (latency - smoothed)
        self._smoothed = smoothed
        if smoothed <= FAST * fastest:
            self.size = min(float(self.largest), self.size + 1)
        elif smoothed >= SLOW * fastest:
            self.size = max(1.0, self.size - 1)
