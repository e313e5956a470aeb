"""Faults a test injects: 429s, 5xx, drops and delays of the next creates; failed deliveries."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["Fault", "FaultKind", "Faults"]

FaultKind = Literal[
    "rate_limit",
    "fail",
    "error_after_create",
    "drop_before_create",
    "drop_after_create",
    "slow",
    "gateway_page",
    "garbled_created",
]


@dataclass(frozen=True, slots=True)
class Fault:
    """One armed fault; the fields that do not apply to its kind keep their defaults."""

    kind: FaultKind
    status: int = 0
    retry_after: float | None = None
    seconds: float = 0.0

    @property
    def creates(self) -> bool:
        """Whether the message is still created (the fault strikes after creation)."""
        return self.kind in {"error_after_create", "drop_after_create", "slow", "garbled_created"}


@dataclass(slots=True)
class _Armed:
    fault: Fault
    remaining: int


class Faults:
    """Faults for the next create requests (``POST …/Messages.json``), applied in arming order.

    Each call arms its fault for the next `times` create requests, after any faults armed
    before it: ``rate_limit(2); drop_after_create()`` makes the next two creates 429 and the
    third one created-then-dropped. A fault that creates the message still answers a refused
    create (400) with the refusal; `slow` delays it too. `undelivered(to)` is of another
    sort: every message to that recipient ends ``undelivered`` until the faults are cleared.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: deque[_Armed] = deque()
        self._undelivered: dict[str, int] = {}
        self._observer: Callable[[], None] | None = None

    def observe(self, observer: Callable[[], None] | None) -> None:
        """Call `observer` (outside the faults' lock) after every change of what is armed."""
        self._observer = observer

    def _changed(self) -> None:
        observer = self._observer
        if observer is not None:
            observer()

    def __repr__(self) -> str:
        return f"Faults({self.pending!r})"

    @property
    def pending(self) -> list[tuple[FaultKind, int]]:
        """The armed faults in order, each with how many creates it still applies to."""
        with self._lock:
            return [(entry.fault.kind, entry.remaining) for entry in self._armed]

    def rate_limit(self, times: int = 1, *, retry_after: float | None = None) -> None:
        """Answer 429 (code 20429), create nothing; send `Retry-After` when given."""
        if retry_after is not None and retry_after < 0:
            raise ValueError(f"retry_after must not be negative, not {retry_after!r}")
        self._arm(Fault("rate_limit", status=429, retry_after=retry_after), times)

    def fail(self, times: int = 1, *, status: int = 500) -> None:
        """Answer `status` (5xx) with Twilio's error JSON; create nothing."""
        self._arm(Fault("fail", status=_server_error(status)), times)

    def undelivered(self, to: str, code: int = 30003) -> None:
        """Make every message created to `to` from now on end ``undelivered`` with `code`."""
        if isinstance(code, bool) or not isinstance(code, int) or not 30000 <= code <= 39999:
            raise ValueError(f"code must be a 30xxx delivery error code, not {code!r}")
        if not isinstance(to, str) or not to:
            raise ValueError(f"to must be a recipient's number, not {to!r}")
        with self._lock:
            self._undelivered[to.rpartition(":")[2]] = code
        self._changed()

    @property
    def undelivered_recipients(self) -> dict[str, int]:
        """The recipients armed with `undelivered`, each with its error code."""
        with self._lock:
            return dict(self._undelivered)

    def delivery_failure(self, to: str) -> int | None:
        """The error code a message to `to` (channel prefix ignored) is to fail with, if any."""
        with self._lock:
            return self._undelivered.get(to.rpartition(":")[2]) if self._undelivered else None

    def error_after_create(self, times: int = 1, *, status: int = 500) -> None:
        """Create the message, then answer `status` (5xx) with Twilio's error JSON."""
        self._arm(Fault("error_after_create", status=_server_error(status)), times)

    def drop_before_create(self, times: int = 1) -> None:
        """Read the request, then close the connection without answering; create nothing."""
        self._arm(Fault("drop_before_create"), times)

    def drop_after_create(self, times: int = 1) -> None:
        """Create the message, then close the connection without answering."""
        self._arm(Fault("drop_after_create"), times)

    def slow(self, times: int = 1, *, seconds: float) -> None:
        """Create the message and answer normally, but only after `seconds`."""
        if seconds < 0:
            raise ValueError(f"seconds must not be negative, not {seconds!r}")
        self._arm(Fault("slow", seconds=seconds), times)

    def gateway_page(self, times: int = 1, *, status: int = 502) -> None:
        """Answer an HTML error page (text/html) as a proxy would; create nothing."""
        self._arm(Fault("gateway_page", status=_server_error(status)), times)

    def garbled_created(self, times: int = 1) -> None:
        """Create the message, then answer 201 with a body that is not JSON."""
        self._arm(Fault("garbled_created"), times)

    def clear(self) -> None:
        """Disarm every fault, the undelivered recipients too."""
        with self._lock:
            self._armed.clear()
            self._undelivered.clear()
        self._changed()

    def take(self) -> Fault | None:
        """The fault for the create request that just arrived, if any (used by the server)."""
        with self._lock:
            if not self._armed:
                return None
            entry = self._armed[0]
            entry.remaining -= 1
            if not entry.remaining:
                self._armed.popleft()
        self._changed()
        return entry.fault

    def _arm(self, fault: Fault, times: int) -> None:
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"times must be a positive integer, not {times!r}")
        with self._lock:
            self._armed.append(_Armed(fault, times))
        self._changed()


def _server_error(status: int) -> int:
    if not 500 <= status <= 599:
        raise ValueError(f"status must be a 5xx HTTP status, not {status!r}")
    return status
