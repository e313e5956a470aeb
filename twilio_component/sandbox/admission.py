"""Admission of API requests: a fixed latency before each answer and a cap on concurrent ones."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Admission"]


class Admission:
    """Counts the API requests in flight, delays each by `latency` and spots crowded creates.

    A request is crowded when, on arrival, more than `max_concurrent` requests (itself
    included) are in flight; the Messages API answers a crowded create 429 (20429), as
    Twilio does past an account's concurrency limit.
    """

    def __init__(self, *, latency: float = 0.0, max_concurrent: int | None = None) -> None:
        if isinstance(latency, bool) or not isinstance(latency, int | float) or latency < 0:
            raise ValueError(f"latency must be a number of seconds >= 0, not {latency!r}")
        if max_concurrent is not None and (
            isinstance(max_concurrent, bool)
            or not isinstance(max_concurrent, int)
            or max_concurrent < 1
        ):
            raise ValueError(f"max_concurrent must be an integer >= 1, not {max_concurrent!r}")
        self._latency = float(latency)
        self._max = max_concurrent
        self._lock = threading.Lock()
        self._in_flight = 0
        self._local = threading.local()
        self._stopping = threading.Event()

    @property
    def in_flight(self) -> int:
        """How many API requests are being answered now."""
        with self._lock:
            return self._in_flight

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Count one request in flight for the block, after waiting out the latency."""
        with self._lock:
            self._in_flight += 1
            self._local.crowded = self._max is not None and self._in_flight > self._max
        try:
            if self._latency:
                self._stopping.wait(self._latency)
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
            self._local.crowded = False

    def crowded(self) -> bool:
        """Whether the request this thread is answering arrived past `max_concurrent`."""
        return bool(getattr(self._local, "crowded", False))

    def stop(self) -> None:
        """Cut short the latency waits in progress and to come (the sandbox is stopping)."""
        self._stopping.set()
