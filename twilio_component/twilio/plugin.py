"""Registers the Twilio component with the host, through the same hook any plugin uses."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from twilio_component.component import Component
from twilio_component.descriptor import load_descriptor
from twilio_component.hookspecs import hookimpl
from twilio_component.resources import data_root
from twilio_component.twilio.call_triggers import CallStatuses, IncomingCalls
from twilio_component.twilio.consent import TWILIO_CONSENT
from twilio_component.twilio.environment import twilio_environment
from twilio_component.twilio.messages import find_earlier_message, send_message
from twilio_component.twilio.output import SHAPES
from twilio_component.twilio.pacing import TRAFFIC
from twilio_component.twilio.rules import twilio_rules
from twilio_component.twilio.triggers import TRIGGER_SHAPES, IncomingMessages, MessageStatuses
from twilio_component.twilio.verify import (
    check_verification,
    get_message,
    list_messages,
    lookup_phone_number,
    start_verification,
)
from twilio_component.twilio.voice import make_call, update_call

#: The handler of each action of component.yaml.
HANDLERS = {
    "sendSMS": send_message,
    "sendMessage": send_message,
    "makeCall": make_call,
    "updateCall": update_call,
    "startVerification": start_verification,
    "checkVerification": check_verification,
    "lookupPhoneNumber": lookup_phone_number,
    "getMessage": get_message,
    "listMessages": list_messages,
}


def twilio_triggers() -> dict[str, Any]:
    """The handler of each trigger of component.yaml, by trigger name."""
    return {
        "newIncomingSMS": IncomingMessages(),
        "messageStatus": MessageStatuses(),
        "newIncomingCall": IncomingCalls(),
        "callStatus": CallStatuses(),
    }


#: Actions whose unknown outcome can be looked up in Twilio's log (keyed steps, campaigns).
RECONCILED = ("sendSMS", "sendMessage")


def message_sid(output: Mapping[str, Any]) -> str | None:
    """The SID of the message or call an output object or a trigger's event is about."""
    for key in ("sid", "messageSid", "callSid"):
        sid = output.get(key)
        if isinstance(sid, str):
            return sid
    return None


@hookimpl
def register_components(register: Callable[[Component], None]) -> None:
    """Register the ``twilio/v1`` component described by component.yaml."""
    own_data = data_root(__name__.rpartition(".")[0])  # twilio_component/twilio/data in a wheel
    descriptor = load_descriptor(own_data / "component.yaml", name="component.yaml")
    handlers = {action.name: HANDLERS[action.name] for action in descriptor.actions}
    register(
        Component(
            descriptor,
            handlers=handlers,
            rules=twilio_rules(),
            shapes=SHAPES | TRIGGER_SHAPES,
            triggers=twilio_triggers(),
            reconcilers=dict.fromkeys(RECONCILED, find_earlier_message),
            receipt=message_sid,
            traffic=TRAFFIC,
            environment=twilio_environment(),
            consent=TWILIO_CONSENT,
        )
    )
