"""The exception tree: every error the host raises, each saying what happened and what to do.

::

    ComponentError                  base of everything raised here                      exit 1
    ├── DescriptorError             a component descriptor is invalid (path of each problem)  1
    ├── StepError                   a step or workflow cannot run as written (unknown type)   2
    │   ├── ParameterError          step parameters are invalid (every problem); nothing sent 2
    │   ├── WorkflowError           a workflow's tasks or references are invalid; nothing ran 2
    │   └── KeyConflictError        a step key was used before with other parameters; not sent 2
    ├── ConnectionConfigError       credentials or API address missing or malformed; not sent 2
    ├── OutputError                 sent, but the output broke its schema (strict mode)       1
    ├── ActionError                 a component's handler failed unexpectedly (names both)    4
    ├── WorkflowFailed              a task failed after earlier tasks ran (workflow/)         5
    ├── TriggerConflictError        a webhook is already set to another URL; left as it is    2
    └── ServiceError                talking to a component's service failed                   1
        ├── RefusedError            the service answered no; nothing was sent                 3
        │   └── RecordedRefusal     refused on an earlier run (the journal says); not retried 3
        ├── NotSentError            the request never left; safe to retry                     1
        │   └── JournalUnavailableError  the journal failed before sending; nothing sent       1
        └── UnknownOutcomeError     the request may have been received; it was not retried    4
            ├── KeyBusyError        another process is sending this key right now             4
            ├── KeyHeldError        an earlier attempt is ambiguous; held for a person        4
            └── UnrecordedError     it ran, but the journal could not record it               4

(The last column is the command line's exit code.) A component's own errors derive from these:
the Twilio component's are in ``twilio_component.twilio.errors`` (TwilioError, a ServiceError;
TwilioAPIError a RefusedError; RequestNotSentError a NotSentError; OutcomeUnknownError an
UnknownOutcomeError). ``may_have_sent`` tells, on any of them, whether anything may have reached
the service.

Messages never contain secrets. Errors that stand for a lower-layer failure are raised after its
handler has ended, so their ``__cause__`` and ``__context__`` are empty: a traceback cannot carry
a request, and its Authorization header, along. Every error survives ``pickle`` (workers and
result backends need it) with its type, message and attributes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def _rebuild(cls: type[ComponentError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """Unpickle an error without calling its keyword-only constructor."""
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class ComponentError(Exception):
    """Base of every error raised by the host and its components."""

    #: Whether anything may have reached the service when this error was raised.
    may_have_sent: bool = False

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


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


class WorkflowError(_ProblemsError, StepError):
    """A workflow cannot run as written (every problem, each with its path); nothing ran."""

    headline = "workflow cannot run as written, nothing was sent"


class ConnectionConfigError(_ProblemsError):
    """Credentials or the API address are missing or malformed; nothing was sent."""

    headline = "connection is invalid, nothing was sent"


class ActionError(ComponentError):
    """A component's handler raised something that is not a ComponentError.

    It names the component's plugin, the step type and what was raised; whether anything was
    sent is unknown, so ``may_have_sent`` is True.
    """

    may_have_sent = True

    def __init__(self, step_type: str, plugin: str, error_type: str, detail: str) -> None:
        self.step_type = step_type
        self.plugin = plugin
        self.error_type = error_type
        self.detail = detail
        super().__init__(
            f"{step_type} (plugin {plugin}) failed: {self.error_type}: {self.detail}. It may "
            "have sent something before failing: check before running it again, and report this "
            f"to the maintainers of {plugin}."
        )


class TriggerConflictError(ComponentError):
    """Enabling a trigger would replace a webhook that points somewhere else: nothing changed.

    ``current`` is the URL that is set; enable with ``take_over`` to replace it anyway.
    """

    def __init__(self, trigger_type: str, target: str, current: str) -> None:
        self.trigger_type = trigger_type
        self.target = target
        self.current = current
        super().__init__(
            f"{trigger_type}: {target} already sends its webhooks to {current}; it was left "
            "as it is. Point it here anyway with take-over (--take-over on the command line), "
            "or clear that URL first."
        )


class ServiceError(ComponentError):
    """Talking to a component's remote service failed."""


class RefusedError(ServiceError):
    """The service answered with an error: the request was refused and nothing was sent.

    ``retry_later`` says the refusal is about now, not about the request (too many requests,
    a full queue): a keyed step refused so is not recorded as failed, and a rerun sends it.
    """

    @property
    def retry_later(self) -> bool:
        """Whether the same request may succeed later."""
        return False

    @property
    def pause_sender(self) -> bool:
        """Whether, refused for now, the sender should stop for a while (its queue at the
        service is full) rather than slow down."""
        return False


class NotSentError(ServiceError):
    """The request never reached the service: retrying is safe."""


class UnknownOutcomeError(ServiceError):
    """The request may have reached the service: it was not retried; check before retrying."""

    may_have_sent = True


class OutputError(ComponentError):
    """The step ran (a message was sent) but its output does not match the output schema.

    Raised only with ``Settings(strict_output=True)``; the output is kept on the error.
    """

    may_have_sent = True

    def __init__(
        self,
        step_type: str,
        output: dict[str, object],
        problems: Sequence[Problem],
        *,
        receipt: str | None = None,
    ) -> None:
        self.output = output
        self.problems = tuple(problems)
        self.receipt = receipt
        done = f"ran and did its work ({receipt})" if receipt else "ran and did its work"
        listed = "; ".join(str(p) for p in self.problems)
        super().__init__(
            f"{step_type} {done}, but its output does not match the output schema: {listed}. "
            "Do not run it again; report this as a bug."
        )


__all__ = [
    "ActionError",
    "ComponentError",
    "ConnectionConfigError",
    "DescriptorError",
    "JournalUnavailableError",
    "NotSentError",
    "OutputError",
    "ParameterError",
    "Problem",
    "RefusedError",
    "ServiceError",
    "StepError",
    "UnknownOutcomeError",
    "UnrecordedError",
    "WorkflowError",
]


def __getattr__(name: str) -> Any:
    """Errors that moved into a component stay reachable here through the public surface."""
    import twilio_component

    if name in twilio_component.__all__:
        return getattr(twilio_component, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class KeyConflictError(StepError):
    """A step key already names a step with other parameters: nothing was sent.

    Keys are how a rerun finds what an earlier run did; reusing one for another step would
    return that step's output (or send nothing). Use a new key for a new step.
    """

    def __init__(self, key: str, step_type: str) -> None:
        self.key = key
        self.step_type = step_type
        super().__init__(
            f"key {key!r} was used before for a {step_type} step with other parameters; "
            "nothing was sent. Give this step a key of its own."
        )


class RecordedRefusal(RefusedError):
    """The service refused this keyed step on an earlier run; it is not sent again."""

    def __init__(self, key: str, code: int | None, message: str) -> None:
        self.key = key
        self.code = code
        self.message = message
        super().__init__(
            f"key {key!r} was refused on an earlier run"
            + (f" (error {code})" if code is not None else "")
            + f": {message}. It is not sent again."
        )


class KeyBusyError(UnknownOutcomeError):
    """Another process holds a live claim on this key and may be sending it now."""

    def __init__(self, key: str, owner: str | None) -> None:
        self.key = key
        self.owner = owner
        super().__init__(
            f"key {key!r} is being sent by {owner or 'another process'} right now; run again "
            "once it has finished (its claim expires if it died)."
        )


class KeyHeldError(UnknownOutcomeError):
    """An earlier attempt of this key may or may not have been received, and looking it up
    did not tell: the key is held, never re-sent blindly, until a person decides."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(
            f"key {key!r} is held: an earlier attempt may have been received and the lookup "
            f"could not tell ({reason}). Check the service's log; it is not sent again."
        )


class JournalUnavailableError(NotSentError):
    """The journal could not be read or written before the step was sent: nothing was sent.

    ``where`` names the journal (never with a password); ``reason`` is the database's word.
    """

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(
            f"the journal {where} could not be read or written ({reason}); nothing was sent. "
            "Free space or fix its access, then run again."
        )


class UnrecordedError(UnknownOutcomeError):
    """A keyed step ran (``output`` is what the service answered), but the journal could not
    record it: the next run looks the step up before sending anything."""

    def __init__(self, key: str, where: str, reason: str, output: dict[str, Any]) -> None:
        self.key = key
        self.where = where
        self.reason = reason
        self.output = output
        super().__init__(
            f"key {key!r} was sent, but the journal {where} could not record it ({reason}); "
            "the next run looks it up before sending anything, so it is not sent twice."
        )
