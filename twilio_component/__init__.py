"""Twilio's Send SMS as a workflow step: a declarative component, a pluggy host and a sandbox."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "1.0.0"

if TYPE_CHECKING:
    from twilio_component.component import (
        Component,
        Connection,
        EnvironmentConnection,
        Invocation,
        Runtime,
    )
    from twilio_component.descriptor import load_descriptor
    from twilio_component.errors import (
        ActionError,
        ComponentError,
        ConnectionConfigError,
        DescriptorError,
        JournalUnavailableError,
        KeyBusyError,
        KeyConflictError,
        KeyHeldError,
        NotSentError,
        OutputError,
        ParameterError,
        Problem,
        RecordedRefusal,
        RefusedError,
        ServiceError,
        StepError,
        TriggerConflictError,
        UnknownOutcomeError,
        UnrecordedError,
        WorkflowError,
    )
    from twilio_component.hookspecs import hookimpl
    from twilio_component.host import Host, PreparedStep
    from twilio_component.pacing import Traffic
    from twilio_component.settings import HostSettings, RetryPolicy
    from twilio_component.triggers import (
        Event,
        EventLedger,
        MemoryLedger,
        Received,
        Reception,
        TriggerHandler,
        TriggerInvocation,
        WebhookAnswer,
        WebhookRequest,
    )
    from twilio_component.twilio.errors import (
        OutcomeUnknownError,
        RateLimitedError,
        RequestNotSentError,
        TwilioAPIError,
        TwilioError,
    )
    from twilio_component.twilio.segments import estimate
    from twilio_component.twilio.settings import Settings
    from twilio_component.twilio.signature import compute_signature, verify_signature
    from twilio_component.workflow import WorkflowFailed, WorkflowRun

# Public names, imported on first use so that `import twilio_component` stays cheap.
_EXPORTS = {
    "Host": "twilio_component.host",
    "PreparedStep": "twilio_component.host",
    "Component": "twilio_component.component",
    "Invocation": "twilio_component.component",
    "Connection": "twilio_component.component",
    "EnvironmentConnection": "twilio_component.component",
    "Traffic": "twilio_component.pacing",
    "Runtime": "twilio_component.component",
    "WorkflowFailed": "twilio_component.workflow",
    "WorkflowRun": "twilio_component.workflow",
    "hookimpl": "twilio_component.hookspecs",
    "load_descriptor": "twilio_component.descriptor",
    "Settings": "twilio_component.twilio.settings",
    "HostSettings": "twilio_component.settings",
    "RetryPolicy": "twilio_component.settings",
    "estimate": "twilio_component.twilio.segments",
    "compute_signature": "twilio_component.twilio.signature",
    "verify_signature": "twilio_component.twilio.signature",
    **dict.fromkeys(
        (
            "ActionError",
            "NotSentError",
            "RefusedError",
            "ServiceError",
            "UnknownOutcomeError",
            "UnrecordedError",
            "JournalUnavailableError",
            "WorkflowError",
            "ComponentError",
            "ConnectionConfigError",
            "DescriptorError",
            "OutputError",
            "ParameterError",
            "Problem",
            "StepError",
            "TriggerConflictError",
            "KeyBusyError",
            "KeyConflictError",
            "KeyHeldError",
            "RecordedRefusal",
        ),
        "twilio_component.errors",
    ),
    **dict.fromkeys(
        (
            "Event",
            "EventLedger",
            "MemoryLedger",
            "Received",
            "Reception",
            "TriggerHandler",
            "TriggerInvocation",
            "WebhookAnswer",
            "WebhookRequest",
        ),
        "twilio_component.triggers",
    ),
    **dict.fromkeys(
        (
            "OutcomeUnknownError",
            "RateLimitedError",
            "RequestNotSentError",
            "TwilioAPIError",
            "TwilioError",
        ),
        "twilio_component.twilio.errors",
    ),
}

__all__ = [
    "ActionError",
    "Component",
    "ComponentError",
    "Connection",
    "ConnectionConfigError",
    "DescriptorError",
    "EnvironmentConnection",
    "Event",
    "EventLedger",
    "Host",
    "HostSettings",
    "Invocation",
    "JournalUnavailableError",
    "KeyBusyError",
    "KeyConflictError",
    "KeyHeldError",
    "MemoryLedger",
    "NotSentError",
    "OutcomeUnknownError",
    "OutputError",
    "ParameterError",
    "PreparedStep",
    "Problem",
    "RateLimitedError",
    "Received",
    "Reception",
    "RecordedRefusal",
    "RefusedError",
    "RequestNotSentError",
    "RetryPolicy",
    "Runtime",
    "ServiceError",
    "Settings",
    "StepError",
    "Traffic",
    "TriggerConflictError",
    "TriggerHandler",
    "TriggerInvocation",
    "TwilioAPIError",
    "TwilioError",
    "UnknownOutcomeError",
    "UnrecordedError",
    "WebhookAnswer",
    "WebhookRequest",
    "WorkflowError",
    "WorkflowFailed",
    "WorkflowRun",
    "compute_signature",
    "estimate",
    "hookimpl",
    "load_descriptor",
    "verify_signature",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'twilio_component' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
