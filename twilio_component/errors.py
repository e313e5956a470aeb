"""The exception tree: every error the package raises, each saying what happened and what to do.

::

    ComponentError                  base of everything raised here
    ├── DescriptorError             a component descriptor is invalid (JSON path of each problem)
    ├── StepError                   a step or workflow cannot run as written (e.g. unknown type)
    │   └── ParameterError          step parameters are invalid (every problem); nothing was sent
    ├── ConnectionConfigError       credentials or API address missing or malformed; nothing sent
    └── TwilioError                 talking to Twilio failed
        ├── TwilioAPIError          Twilio answered with an error; nothing was sent
        │   └── RateLimitedError    429 after the retries ran out; nothing was sent
        ├── RequestNotSentError     failed before the request reached Twilio; safe to retry
        └── OutcomeUnknownError     the request may have reached Twilio; it was not retried

Messages never contain secrets, and errors raised from a lower layer are raised ``from None``
so that a traceback cannot carry a request (and its Authorization header) along.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ComponentError(Exception):
    """Base of every error raised by twilio-component."""

    #: Whether anything may have reached Twilio when this error was raised.
    may_have_sent: bool = False


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem with one field: its JSON-style path and a human reason."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class _ProblemsError(ComponentError):
    """An error that carries a list of problems, each with its path."""

    headline = "invalid"

    def __init__(self, problems: Sequence[Problem], *, subject: str = "") -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.subject = subject
        lines = "\n".join(f"  {p}" for p in self.problems)
        prefix = f"{subject}: " if subject else ""
        super().__init__(f"{prefix}{self.headline} ({len(self.problems)} problem(s)):\n{lines}")


class DescriptorError(_ProblemsError):
    """A component descriptor does not match schemas/component.schema.json."""

    headline = "component descriptor is invalid"


class StepError(ComponentError):
    """A step or workflow cannot run as written: unknown type, malformed file, bad reference."""


class ParameterError(_ProblemsError, StepError):
    """Step parameters are invalid; nothing was sent."""

    headline = "parameters are invalid, nothing was sent"


class ConnectionConfigError(_ProblemsError):
    """Credentials or the API address are missing or malformed; nothing was sent."""

    headline = "connection is invalid, nothing was sent"


class TwilioError(ComponentError):
    """Talking to Twilio failed."""


class TwilioAPIError(TwilioError):
    """Twilio answered with an error: the request was refused and nothing was sent."""

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
        code_part = f" {code}" if code is not None else ""
        text = f"Twilio refused the request (HTTP {status}, error{code_part}): {message}"
        if detail:
            text += f" ({detail})"
        if more_info:
            text += f"; see {more_info}"
        super().__init__(text + ". Nothing was sent.")


class RateLimitedError(TwilioAPIError):
    """Twilio kept answering 429 Too Many Requests until the retry budget ran out."""

    def __init__(
        self, message: str, *, attempts: int, retry_after: float | None = None, **kw: object
    ) -> None:
        self.attempts = attempts
        self.retry_after = retry_after
        super().__init__(message, **kw)  # type: ignore[arg-type]


class RequestNotSentError(TwilioError):
    """The request failed before reaching Twilio (refused, DNS, connect timeout): retry is safe."""


class OutcomeUnknownError(TwilioError):
    """The request may have reached Twilio: check before sending again; it was not retried."""

    may_have_sent = True

    def __init__(
        self,
        reason: str,
        *,
        to: str | None = None,
        from_: str | None = None,
        attempted_at: str | None = None,
        sid: str | None = None,
    ) -> None:
        self.reason = reason
        self.to = to
        self.from_ = from_
        self.attempted_at = attempted_at
        self.sid = sid
        where = ", ".join(
            f"{k}={v}" for k, v in (("To", to), ("From", from_), ("at", attempted_at)) if v
        )
        advice = (
            "The message may have been sent; it was not retried. Check Twilio's message log"
            + (f" ({where})" if where else "")
            + " before sending again."
        )
        super().__init__(f"outcome unknown: {reason}. {advice}")


__all__ = [
    "ComponentError",
    "ConnectionConfigError",
    "DescriptorError",
    "OutcomeUnknownError",
    "ParameterError",
    "Problem",
    "RateLimitedError",
    "RequestNotSentError",
    "StepError",
    "TwilioAPIError",
    "TwilioError",
]
