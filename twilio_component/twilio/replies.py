"""Reading Twilio's answers: JSON bodies, error objects, Retry-After, and what an answer that
is not Twilio's says."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from twilio_component.twilio.errors import RateLimitedError, TwilioAPIError, asks_to_slow_down
from twilio_component.twilio.transport import Answer

__all__ = ["api_error", "json_object", "retry_after", "unknown_status"]


class Scrubs(Protocol):
    """What masks the secrets of a request in text a server sent back (Credentials is one)."""

    def scrub(self, text: str) -> str:
        """``text`` with the secrets masked."""


def retry_after(value: str | None) -> float | None:
    """Seconds asked for by a Retry-After header, or None when it is absent or unreadable.

    Either delay-seconds (``120``) or an HTTP date (RFC 7231: IMF-fixdate ``Wed, 21 Oct 2026
    07:28:00 GMT``, or the obsolete RFC 850 and asctime forms), read as the seconds from now
    until then, 0 when it has passed. A date without a zone is GMT, as HTTP dates always are.
    The caller bounds the wait as every wait: beyond the policy's budget, no retry.
    """
    text = (value or "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), 1e9)  # "inf" or a far date: more than any wait budget


def json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def unknown_status(answer: Answer) -> str:
    status = answer.status
    if 300 <= status < 400:
        return f"HTTP {status}, a redirect, which is never followed"
    error = json_object(answer.body) or {}
    message = _text(error.get("message"))
    if message:
        return f"Twilio answered HTTP {status}: {message[:300]}"
    kind = answer.headers.get("Content-Type", "").split(";")[0] or "no content type"
    return f"HTTP {status} {answer.reason} ({kind}) from a gateway or proxy on the way to Twilio"


def api_error(
    answer: Answer,
    credentials: Scrubs,
    *,
    attempts: int = 1,
    waited: float = 0.0,
    retry_after: float | None = None,
) -> TwilioAPIError:
    error = json_object(answer.body) or {}
    code = error.get("code")
    scrub = credentials.scrub
    message = scrub(_text(error.get("message")) or answer.reason or f"HTTP {answer.status}")
    details: dict[str, Any] = {
        "status": answer.status,
        "code": code if isinstance(code, int) and not isinstance(code, bool) else None,
        "more_info": scrub(more) if (more := _text(error.get("more_info"))) else None,
        "detail": scrub(detail) if (detail := _text(error.get("detail"))) else None,
    }
    if rate_limited(answer):
        return RateLimitedError(
            message, attempts=attempts, retry_after=retry_after, waited=waited, **details
        )
    return TwilioAPIError(message, **details)


def rate_limited(answer: Answer) -> bool:
    """Whether an answer is a 429 asking to slow down (retried), by its Twilio code."""
    if answer.status != 429:
        return False  # no body to read for every other answer
    code = (json_object(answer.body) or {}).get("code")
    return asks_to_slow_down(answer.status, code if isinstance(code, int) else None)
