"""The embedded Twilio sandbox: a loopback server that speaks Twilio's Messages API."""

from twilio_component.sandbox.api import RecordedRequest
from twilio_component.sandbox.callbacks import CallbackRecord
from twilio_component.sandbox.clock import Clock, ManualClock, SystemClock
from twilio_component.sandbox.faults import Fault, Faults
from twilio_component.sandbox.inbound import InboundRefused
from twilio_component.sandbox.service import Sandbox
from twilio_component.sandbox.webhooks import WebhookDelivery

__all__ = [
    "CallbackRecord",
    "Clock",
    "Fault",
    "Faults",
    "InboundRefused",
    "ManualClock",
    "RecordedRequest",
    "Sandbox",
    "SystemClock",
    "WebhookDelivery",
]
