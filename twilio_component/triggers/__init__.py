"""Triggers: webhooks in, events out, each at most once; served by the WSGI app
(``triggers.wsgi``) and run as workflows by the Listener (``triggers.listener``)."""

from __future__ import annotations

from twilio_component.triggers.ledger import MemoryLedger, settle
from twilio_component.triggers.protocol import (
    Answering,
    Event,
    EventLedger,
    Headers,
    Received,
    Reception,
    TriggerHandler,
    TriggerInvocation,
    WebhookAnswer,
    WebhookRequest,
)

__all__ = [
    "Answering",
    "Event",
    "EventLedger",
    "Headers",
    "MemoryLedger",
    "Received",
    "Reception",
    "TriggerHandler",
    "TriggerInvocation",
    "WebhookAnswer",
    "WebhookRequest",
    "settle",
]
