"""Twilio's opt-outs: the keywords its carriers honour (STOP, START…), the OptOutType of
Advanced Opt-Out, and error 21610, each scoped to the sender or Messaging Service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from twilio_component.consent import Consent, ConsentChange
from twilio_component.errors import ComponentError

__all__ = ["OPT_IN", "OPT_OUT", "TWILIO_CONSENT", "UNSUBSCRIBED"]

#: Single-word replies that opt out (case and surrounding spaces do not matter).
OPT_OUT: Final = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
#: Single-word replies that opt back in.
OPT_IN: Final = frozenset({"START", "YES", "UNSTOP"})
#: Twilio's refusal of a message to someone who opted out of the sender.
UNSUBSCRIBED: Final = 21610


def change(trigger_name: str, event: Mapping[str, Any]) -> ConsentChange | None:
    """The opt-out or opt-in an incoming message carries: Advanced Opt-Out's OptOutType, else
    a reply of one keyword; scoped to the Messaging Service that received it, else the
    number."""
    if trigger_name != "newIncomingSMS":
        return None
    fields = event.get("parameters")
    kind = str(fields.get("OptOutType", "")).upper() if isinstance(fields, Mapping) else ""
    if not kind:
        word = str(event.get("body") or "").strip().upper()
        kind = "STOP" if word in OPT_OUT else "START" if word in OPT_IN else ""
    sender, scope = event.get("from"), event.get("messagingServiceSid") or event.get("to")
    if kind not in ("STOP", "START") or not sender or not scope:
        return None
    return ConsentChange(kind == "STOP", str(sender), str(scope))


def refused(error: ComponentError) -> bool:
    """Whether Twilio refused a message because its recipient opted out (21610)."""
    return getattr(error, "code", None) == UNSUBSCRIBED


#: The Twilio component's opt-outs.
TWILIO_CONSENT: Final = Consent(change=change, refused=refused)
