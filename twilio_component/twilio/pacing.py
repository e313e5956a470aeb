"""Twilio's throughput per sender type, and how a Twilio message counts in a campaign: its
recipient, its sender (From, or the Messaging Service) and its cost in segments."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from twilio_component.pacing import LineTypes, Traffic

__all__ = ["TRAFFIC", "default_mps", "message_cost", "recipient", "sender"]

#: Twilio's default throughput per sender type, in message segments per second (MPS).
LONG_CODE_MPS = 1.0
TOLL_FREE_MPS = 3.0
SHORT_CODE_MPS = 100.0
ALPHANUMERIC_MPS = 10.0
WHATSAPP_MPS = 10.0
WHATSAPP_MEDIA_MPS = 1.5


_TOLL_FREE = re.compile(r"\+1(?:800|833|844|855|866|877|888)[0-9]{7}")
_SHORT_CODE = re.compile(r"[0-9]{5,6}")
_MESSAGING_SERVICE = re.compile(r"MG[0-9a-fA-F]{32}")


def default_mps(sender: str, *, has_media: bool = False) -> float:
    """Twilio's default throughput of `sender`, in message segments per second.

    From Twilio's table of default MPS per sender type:

    - a ``whatsapp:`` address: 10 (1.5 for a message with media);
    - toll-free, ``+1`` then 800, 833, 844, 855, 866, 877 or 888 and 7 digits: 3;
    - a short code, 5 or 6 digits: 100;
    - an alphanumeric sender ID, with a letter and neither ``+`` nor ``:``: 10;
    - a Messaging Service SID, ``MG`` and 32 hexadecimal digits: 1, as a US/CA long code;
    - any other E.164 number (a US/CA long code): 1.

    Anything else gets 1, the slowest. A 10DLC number or a Messaging Service is often
    provisioned faster: give the rate to `Pacer` (``mps``) to override these defaults.
    `has_media` only changes WhatsApp's pace.
    """
    if sender[:9].lower() == "whatsapp:":
        return WHATSAPP_MEDIA_MPS if has_media else WHATSAPP_MPS
    if _TOLL_FREE.fullmatch(sender):
        return TOLL_FREE_MPS
    if _MESSAGING_SERVICE.fullmatch(sender):
        return LONG_CODE_MPS
    if _SHORT_CODE.fullmatch(sender):
        return SHORT_CODE_MPS
    if any(c.isalpha() for c in sender) and "+" not in sender and ":" not in sender:
        return ALPHANUMERIC_MPS
    return LONG_CODE_MPS


def _media_weight(sender: str) -> float:
    """How many text messages' worth of the sender's pace one media message takes."""
    return default_mps(sender) / default_mps(sender, has_media=True)


def recipient(parameters: Mapping[str, Any]) -> str:
    """Who a message goes to: its To."""
    return str(parameters.get("To", ""))


def sender(parameters: Mapping[str, Any]) -> str:
    """Whose pace a message spends: its From, else its Messaging Service."""
    return str(parameters.get("From") or parameters.get("MessagingServiceSid") or "")


def message_cost(parameters: Mapping[str, Any]) -> float:
    """What a message takes of its sender's pace, in text segments: its body's segments, and
    a WhatsApp message with media more than one text message's worth."""
    from twilio_component.twilio.segments import estimate

    body = parameters.get("Body")
    segments = max(1, int(estimate(body)["segments"])) if isinstance(body, str) and body else 1
    if parameters.get("MediaUrl"):
        return segments * _media_weight(sender(parameters))
    return float(segments)


def lookup_step(address: str) -> dict[str, Any]:
    """The step that asks Twilio Lookup for a number's line type."""
    number = address.rpartition(":")[2]
    parameters = {"PhoneNumber": number, "Fields": ["line_type_intelligence"]}
    return {"type": "twilio/v1/lookupPhoneNumber", "parameters": parameters}


def line_type_of(output: Mapping[str, Any]) -> str | None:
    """The line type in lookupPhoneNumber's output (landline, mobile, fixedVoip…)."""
    kind = output.get("lineType")
    return kind if isinstance(kind, str) else None


#: How Twilio's messages count in a campaign.
TRAFFIC = Traffic(
    recipient=recipient,
    sender=sender,
    cost=message_cost,
    rate=default_mps,
    address="To",
    lines=LineTypes(step=lookup_step, type_of=line_type_of),
)
