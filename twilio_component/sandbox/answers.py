"""What the sandbox answered each API request: status and Twilio error code, newest kept."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from twilio_component.sandbox.server import Reply
from twilio_component.sandbox.store import iso_millis

__all__ = ["Answer", "AnswerLog"]


@dataclass(frozen=True, slots=True)
class Answer:
    """One API request and its answer; `status` is None when the connection was dropped."""

    method: str
    path: str
    status: int | None
    error_code: int | None
    to: str | None
    from_: str | None
    at: datetime

    def to_json(self) -> dict[str, Any]:
        """As GET /_sandbox/requests lists it (and the ``request`` event carries it)."""
        return {
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "error_code": self.error_code,
            "to": self.to,
            "from": self.from_,
            "at": iso_millis(self.at),
        }


class AnswerLog:
    """The newest `size` answers, oldest first.

    `observer` is told of each answer as it is noted, and of None when the log is cleared.
    """

    def __init__(
        self, size: int = 500, observer: Callable[[Answer | None], None] | None = None
    ) -> None:
        self._log: deque[Answer] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._observer = observer

    def note(
        self,
        method: str,
        path: str,
        form: Mapping[str, list[str]],
        reply: Reply,
        at: datetime,
    ) -> Answer:
        """Remember the answer `reply` gave to a request (never its credentials)."""
        status = None if reply.drop else reply.status
        answer = Answer(
            method=method,
            path=path,
            status=status,
            error_code=_error_code(reply) if status is not None and status >= 400 else None,
            to=_first(form, "To"),
            from_=_first(form, "From"),
            at=at,
        )
        with self._lock:
            self._log.append(answer)
        if self._observer is not None:
            self._observer(answer)
        return answer

    @property
    def answers(self) -> list[Answer]:
        """The answers kept, oldest first."""
        with self._lock:
            return list(self._log)

    def clear(self) -> None:
        """Forget every answer."""
        with self._lock:
            self._log.clear()
        if self._observer is not None:
            self._observer(None)


def _first(form: Mapping[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0][:64] if values else None


def _error_code(reply: Reply) -> int | None:
    """Twilio's error code in a JSON error body, if there is one."""
    if not reply.content_type.startswith("application/json"):
        return None
    try:
        payload = json.loads(reply.body)
    except ValueError:
        return None
    code = payload.get("code") if isinstance(payload, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None
