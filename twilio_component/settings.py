"""How a Host talks to the services its components call: timeouts, retry budget, strictness."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_CONNECT_TIMEOUT = 5.0
"""Seconds to wait for a connection (TCP and TLS) to a service to be made."""
DEFAULT_READ_TIMEOUT = 30.0
"""Seconds to wait, once a request is written, for the service's complete answer."""


def _check_seconds(name: str, value: object, *, allow_zero: bool) -> None:
    """Refuse a duration that is not a finite number of seconds (or is not positive)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds, not {value!r}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        least = "at least 0" if allow_zero else "more than 0"
        raise ValueError(f"{name} must be a finite number of seconds, {least}; not {value!r}")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of what a service certainly did not process: 429s and requests that never left.

    Only two things are retried: an HTTP 429 (a rate-limited request is never processed) and a
    failure before the request left this machine (connection refused, DNS, connect timeout).
    Anything that may have reached the service is never retried.

    The wait before a retry is Retry-After when the answer carries it, else exponential
    backoff with full jitter: ``random() * min(max_delay, base_delay * 2**retry)`` for retry
    0, 1, 2… With the defaults a request is made at most 4 times and the waits total at most
    0.5 + 1 + 2 = 3.5 s (1.75 s on average); a Retry-After that would take the total sleep
    beyond ``max_total_wait`` ends the retries at once instead of waiting.

    ``max_attempts`` counts the first try (1 disables retries); ``max_total_wait`` bounds the
    seconds spent sleeping between attempts. ``sleep`` and ``random`` are injectable so that
    tests are fast and exact.
    """

    max_attempts: int = 4
    max_total_wait: float = 30.0
    base_delay: float = 0.5
    max_delay: float = 8.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    random: Callable[[], float] = field(default=random.random, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise TypeError(f"max_attempts must be an integer, not {self.max_attempts!r}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts!r}")
        for name in ("max_total_wait", "base_delay", "max_delay"):
            _check_seconds(name, getattr(self, name), allow_zero=True)

    def backoff(self, retry: int) -> float:
        """The wait before retry number ``retry`` (0 for the first retry), with full jitter."""
        return float(self.random() * min(self.max_delay, self.base_delay * (2**retry)))


@dataclass(frozen=True, slots=True)
class HostSettings:
    """Options of a Host, shared by every step it runs, whatever component runs it.

    ``connect_timeout`` (default 5 s): the most time to wait for a connection to be made; a
    connection that times out never carried the request, so it is retried under ``retry``.

    ``read_timeout`` (default 30 s): once the request is written, the most time to wait for
    the complete answer, status line, headers and body together, not merely between two
    reads, so a server that trickles bytes cannot hold a step longer. When it passes, the
    outcome is unknown and the request is not retried. One request takes at most about
    ``connect_timeout + read_timeout``; a step takes at most ``retry.max_attempts`` of those
    plus ``retry.max_total_wait`` (DNS lookups, which the platform resolver runs without a
    timeout, come on top).

    ``retry``: the RetryPolicy of 429s and of requests that never left.

    ``strict_output``: validate every output object against its schema.

    ``environ``: where components read their environment (``os.environ`` when None).

    ``journal``: an SQLite file path, or a ``postgresql://`` URL shared by many machines, that
    makes keyed steps (``Host.execute(…, key=…)``) effectively-once across crashes and
    restarts, and trigger events run once across restarts.

    A component that needs more options subclasses this (the Twilio component's ``Settings``
    adds the API address and reconciliation); a host given the base class runs it with that
    component's defaults.
    """

    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    retry: RetryPolicy = RetryPolicy()
    strict_output: bool = False
    environ: Mapping[str, str] | None = field(default=None, repr=False)
    journal: str | None = None

    def __post_init__(self) -> None:
        _check_seconds("connect_timeout", self.connect_timeout, allow_zero=False)
        _check_seconds("read_timeout", self.read_timeout, allow_zero=False)
        if not isinstance(self.retry, RetryPolicy):
            raise TypeError(f"retry must be a RetryPolicy, not {self.retry!r}")


def __getattr__(name: str) -> Any:
    """Settings classes of components stay reachable here through the public surface."""
    import twilio_component

    if name in twilio_component.__all__:
        return getattr(twilio_component, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
