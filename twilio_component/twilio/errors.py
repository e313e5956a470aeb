"""The Twilio component's errors: what Twilio answered, or why its answer is not known.

::

    ServiceError (twilio_component.errors)
    └── TwilioError                 talking to Twilio failed                                  1
        ├── TwilioAPIError          Twilio answered with an error; nothing was sent  (Refused) 3
        │   └── RateLimitedError    429 after the retries ran out; nothing was sent           3
        ├── RequestNotSentError     failed before the request reached Twilio (NotSent)        1
        └── OutcomeUnknownError     the request may have reached Twilio (UnknownOutcome)      4
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from twilio_component.errors import NotSentError, RefusedError, ServiceError, UnknownOutcomeError


class TwilioError(ServiceError):
    """Talking to Twilio failed."""


#: Twilio's code when a sender's queue holds about 10 hours of messages already.
QUEUE_FULL = 21611
#: Verify's limits (HTTP 429, final for the verification or the number), with what to do.
VERIFY_LIMITS = {
    60202: "This verification had its 5 checks; start a new one to try again.",
    60203: "5 codes went to this number in the last 10 minutes; wait before sending another.",
}


def asks_to_slow_down(status: int, code: int | None) -> bool:
    """A 429 that asks to slow down (worth retrying later): not one of Verify's limits of a
    verification or a number (60202, 60203), which asking again cannot lift."""
    return status == 429 and code not in VERIFY_LIMITS


class TwilioAPIError(TwilioError, RefusedError):
    """Twilio answered with an error: the request was refused and nothing was sent.

    ``status`` is the HTTP status; ``code``, ``twilio_message``, ``more_info`` and ``detail``
    are Twilio's error fields, kept as Twilio gave them (None when absent).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: int | None = None,
        more_info: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.twilio_message = message
        self.more_info = more_info
        self.detail = detail
        super().__init__(f"{self._what()} Nothing was sent. {self._advice()}")

    @property
    def retry_later(self) -> bool:
        """True for a 429 asking to slow down (``asks_to_slow_down``) and 21611 (the
        sender's queue is full)."""
        return asks_to_slow_down(self.status, self.code) or self.code == QUEUE_FULL

    @property
    def pause_sender(self) -> bool:
        """True for 21611: the sender's queue holds hours of messages already."""
        return self.code == QUEUE_FULL

    def _what(self) -> str:
        code_part = f", error {self.code}" if self.code is not None else ""
        text = f"Twilio refused the request (HTTP {self.status}{code_part}): {self.twilio_message}"
        if self.detail:
            text += f" ({self.detail})"
        return text.rstrip(".") + "."

    def _advice(self) -> str:
        if self.status == 401:
            advice = "Check the Account SID and Auth Token (or API key and secret)."
        elif self.status == 403:
            advice = "Check that the account may use this feature."
        elif self.code in VERIFY_LIMITS:
            advice = VERIFY_LIMITS[self.code]
        elif self.status == 404:
            advice = (
                "Check the SID, the Account SID and the API address; a verification that was "
                "approved, canceled or expired is gone (start a new one)."
            )
        else:
            advice = "Correct the request before sending it again."
        return advice + (f" See {self.more_info}" if self.more_info else "")


class RateLimitedError(TwilioAPIError):
    """Twilio kept answering 429 Too Many Requests until the retry budget ran out.

    Twilio never processes a rate-limited request, so nothing was sent. ``attempts`` counts
    every request made, ``waited`` the seconds slept between them, ``retry_after`` the last
    Retry-After Twilio asked for (None when it gave none).
    """

    def __init__(
        self,
        message: str,
        *,
        attempts: int,
        retry_after: float | None = None,
        waited: float = 0.0,
        status: int = 429,
        code: int | None = None,
        more_info: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.attempts = attempts
        self.retry_after = retry_after
        self.waited = waited
        super().__init__(message, status=status, code=code, more_info=more_info, detail=detail)

    def _what(self) -> str:
        asked = (
            f"; it last asked to wait {self.retry_after:g} s"
            if self.retry_after is not None
            else ""
        )
        return (
            f"{super()._what()} Twilio was still rate limiting after {self.attempts} attempt(s) "
            f"and {self.waited:.1f} s of waiting{asked}."
        )

    def _advice(self) -> str:
        more = f" See {self.more_info}" if self.more_info else ""
        return f"Try again later or send more slowly.{more}"


class RequestNotSentError(TwilioError, NotSentError):
    """The request never reached Twilio (refused, DNS, connect timeout, TLS): retry is safe.

    ``reason`` says what failed, ``base_url`` where, ``attempts`` how many times it was tried.
    """

    def __init__(self, reason: str, *, base_url: str | None = None, attempts: int = 1) -> None:
        self.reason = reason
        self.base_url = base_url
        self.attempts = attempts
        where = f" at {base_url}" if base_url else ""
        tries = f" ({attempts} attempts)" if attempts > 1 else ""
        super().__init__(
            f"could not reach Twilio{where}: {reason}{tries}. Nothing was sent; it is safe to "
            "try again once the address (TWILIO_API_BASE_URL), network or proxy is fixed."
        )


class OutcomeUnknownError(TwilioError, UnknownOutcomeError):
    """The request may have reached Twilio: it was not retried; check before sending again.

    Carries what is needed to look the message up in Twilio's message log: ``to``, ``from_``
    (the sender or Messaging Service), ``attempted_at`` (timezone-aware UTC, when the request
    was sent), and ``status`` when an HTTP answer was received. ``looked_up`` is True when
    reconciliation searched the log and found no single matching message; ``matches`` holds
    the SIDs it found when there were several; ``lookup_error`` says why the search itself
    failed. ``sid`` is set when Twilio's answer named one.
    """

    may_have_sent = True

    def __init__(
        self,
        reason: str,
        *,
        to: str | None = None,
        from_: str | None = None,
        attempted_at: datetime | None = None,
        status: int | None = None,
        sid: str | None = None,
        looked_up: bool = False,
        matches: Sequence[str] = (),
        lookup_error: str | None = None,
    ) -> None:
        self.reason = reason
        self.to = to
        self.from_ = from_
        self.attempted_at = attempted_at
        self.status = status
        self.sid = sid
        self.looked_up = looked_up
        self.matches = tuple(matches)
        self.lookup_error = lookup_error
        super().__init__(f"outcome unknown: {reason}. {self._advice()}")

    def _where(self) -> str:
        when = self.attempted_at.strftime("%Y-%m-%dT%H:%M:%SZ") if self.attempted_at else None
        parts = [f"To={self.to}" if self.to else "", f"From={self.from_}" if self.from_ else ""]
        if when:
            parts.append(f"sent at {when}")
        if self.sid:
            parts.append(f"SID {self.sid}")
        return ", ".join(p for p in parts if p)

    def _advice(self) -> str:
        where = self._where()
        if self.matches:
            return (
                f"The message may have been sent; it was not retried. Several messages in "
                f"Twilio's message log match ({', '.join(self.matches)}; {where}): check which "
                "one, if any, this step sent before sending again."
            )
        if self.lookup_error:
            return (
                f"The message may have been sent; it was not retried. Looking it up in Twilio's "
                f"message log failed ({self.lookup_error}): look for it there ({where}) before "
                "sending again."
            )
        if self.looked_up:
            return (
                f"The message may have been sent; it was not retried. It was looked up in "
                f"Twilio's message log ({where}) and not found; it may still appear there, so "
                "check again before sending it again."
            )
        return (
            "The message may have been sent; it was not retried. Look for it in Twilio's "
            f"message log ({where}) before sending again, or let the host look it up "
            "(Settings(reconcile=True), or --reconcile on the command line)."
        )


__all__ = [
    "OutcomeUnknownError",
    "RateLimitedError",
    "RequestNotSentError",
    "TwilioAPIError",
    "TwilioError",
]
