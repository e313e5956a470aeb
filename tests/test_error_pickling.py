"""Every public error survives pickle (Celery workers and result backends need it)."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from typing import Any

import pytest

import twilio_component
from twilio_component import (
    ActionError,
    ConnectionConfigError,
    DescriptorError,
    JournalUnavailableError,
    KeyBusyError,
    KeyConflictError,
    KeyHeldError,
    OutcomeUnknownError,
    OutputError,
    ParameterError,
    Problem,
    RateLimitedError,
    RecordedRefusal,
    RequestNotSentError,
    TriggerConflictError,
    TwilioAPIError,
    UnrecordedError,
    WorkflowError,
    WorkflowFailed,
    WorkflowRun,
)
from twilio_component.errors import ComponentError

SECRET = "s3cr3t-auth-token-value"
PROBLEMS = [Problem("To", "is not an E.164 number"), Problem("Body", "is required")]
EXAMPLES: dict[str, ComponentError] = {
    "ComponentError": ComponentError("plain"),
    "DescriptorError": DescriptorError(PROBLEMS, subject="component.yaml"),
    "ParameterError": ParameterError(PROBLEMS, subject="twilio/v1/sendSMS"),
    "ConnectionConfigError": ConnectionConfigError([Problem("password", "is required")]),
    "OutputError": OutputError("twilio/v1/sendSMS", {"sid": "SM" + "a" * 32}, PROBLEMS),
    "WorkflowError": WorkflowError(PROBLEMS),
    "WorkflowFailed": WorkflowFailed(
        "again",
        ParameterError(PROBLEMS),
        WorkflowRun(tasks={"sms": {"sid": "SM" + "c" * 32}}),
        {"sms": "SM" + "c" * 32},
    ),
    "JournalUnavailableError": JournalUnavailableError("steps.db", "database or disk is full"),
    "UnrecordedError": UnrecordedError(
        "order-1", "steps.db", "database or disk is full", {"sid": "SM" + "d" * 32}
    ),
    "ActionError": ActionError("acme/v1/ping", "acme", "RuntimeError", "refused"),
    "KeyBusyError": KeyBusyError("order-1", "host/123/abcd"),
    "KeyConflictError": KeyConflictError("order-1", "twilio/v1/sendSMS"),
    "KeyHeldError": KeyHeldError("order-1", "2 messages match"),
    "RecordedRefusal": RecordedRefusal("order-1", 21610, "unsubscribed"),
    "TriggerConflictError": TriggerConflictError(
        "twilio/v1/newIncomingSMS", "+15005550006", "https://example.com/old"
    ),
    "TwilioAPIError": TwilioAPIError(
        "Invalid To", status=400, code=21211, more_info="https://www.twilio.com/docs/errors/21211"
    ),
    "RateLimitedError": RateLimitedError("Too many", attempts=4, retry_after=2.0, waited=3.5),
    "RequestNotSentError": RequestNotSentError("refused", base_url="https://x", attempts=4),
    "OutcomeUnknownError": OutcomeUnknownError(
        "timed out",
        to="+15558675310",
        from_="+15005550006",
        attempted_at=datetime(2026, 1, 1, tzinfo=UTC),
        matches=["SM" + "b" * 32],
    ),
}
ERRORS = [
    name
    for name in twilio_component.__all__
    if isinstance(getattr(twilio_component, name), type)
    and issubclass(getattr(twilio_component, name), BaseException)
]


def public(error: BaseException) -> dict[str, Any]:
    """Its public attributes; an error it carries (a workflow's failed task's) as type and text."""
    return {
        k: (type(v), str(v)) if isinstance(v, BaseException) else v
        for k, v in vars(error).items()
        if not k.startswith("_")
    }


def test_every_exported_error_has_a_pickling_example() -> None:
    assert set(ERRORS) <= set(EXAMPLES) | {
        "ServiceError",
        "RefusedError",
        "NotSentError",
        "UnknownOutcomeError",
        "StepError",
        "TwilioError",
    }


@pytest.mark.parametrize("name", ERRORS)
def test_an_error_keeps_type_message_and_attributes_through_pickle(name: str) -> None:
    cls = getattr(twilio_component, name)
    error = EXAMPLES.get(name) or cls("a message")
    back = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert back.args == error.args
    assert public(back) == public(error)


def test_problems_come_back_as_the_problems_not_characters() -> None:
    back = pickle.loads(pickle.dumps(EXAMPLES["ParameterError"]))  # noqa: S301
    assert isinstance(back, ParameterError)
    assert back.problems == tuple(PROBLEMS)


def test_a_masked_handler_failure_keeps_the_secret_out_of_the_pickled_bytes() -> None:
    from twilio_component.component import Connection

    connection = Connection("token", {"token": SECRET}, frozenset({"token"}))
    error = ActionError("acme/v1/ping", "acme", "RuntimeError", connection.mask(f"bad {SECRET}"))
    assert SECRET.encode() not in pickle.dumps(error)
