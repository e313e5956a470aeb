"""How a Host talks to APIs: address, timeouts, retry budget, reconciliation."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of what the server certainly did not process: 429s and requests that never left.

    Waits honour Retry-After when the server gives it, else exponential backoff with full
    jitter (``random() * min(max_delay, base_delay * 2**retry)``). ``max_attempts`` counts the
    first try; ``max_total_wait`` bounds the time spent sleeping. ``sleep`` and ``random`` are
    injectable so that tests are fast and exact.
    """

    max_attempts: int = 4
    max_total_wait: float = 30.0
    base_delay: float = 0.5
    max_delay: float = 8.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    random: Callable[[], float] = field(default=random.random, repr=False)

    def backoff(self, retry: int) -> float:
        """The wait before retry number ``retry`` (0 for the first retry), with full jitter."""
        return float(self.random() * min(self.max_delay, self.base_delay * (2**retry)))


@dataclass(frozen=True, slots=True)
class Settings:
    """Options of a Host, shared by every step it runs.

    ``base_url`` None means: from ``TWILIO_API_BASE_URL`` / ``TWILIO_REGION`` / ``TWILIO_EDGE``
    in ``environ`` (``os.environ`` when None), else ``https://api.twilio.com``.
    ``reconcile``: after an unknown outcome, look the message up instead of failing (never
    re-send). ``strict_output``: validate every output object against its schema.
    """

    base_url: str | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    retry: RetryPolicy = RetryPolicy()
    reconcile: bool = False
    strict_output: bool = False
    environ: Mapping[str, str] | None = field(default=None, repr=False)
