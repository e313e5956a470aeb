"""Kombu's Redis transport, handing a message whose envelope does not decode to the consumer.

Kombu decodes a message's body from its ``body_encoding`` (base64) while it builds the message,
before any consumer sees it: a body that is not base64 raised there, out of the event loop, and
ended the worker (the message, already popped off the queue, was lost). Here it is recorded in
the message's ``errors``, kombu's own way of saying a received message cannot be decoded: the
consumer then calls its ``on_decode_error`` (see ``messages.Consumer``), which drops it. So is a
task name that is not a string, which the worker would otherwise fail to look up. The app names
this transport in ``broker_transport`` (``make_app``); the broker URL stays ``redis://``.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis
from kombu.transport.virtual.base import Message as VirtualMessage

__all__ = ["Channel", "Message", "Transport", "UndecodableMessage"]


class UndecodableMessage(Exception):
    """Why a message's envelope cannot be decoded (in our words: never its body)."""


class Message(VirtualMessage):
    """A received message; one whose body does not decode has no body and says why in
    ``errors`` (so does one whose task name is not a string)."""

    def __init__(self, payload: dict[str, Any], channel: Any = None, **kwargs: Any) -> None:
        try:
            super().__init__(payload, channel=channel, **kwargs)
        except Exception as error:  # the body: not base64, an unknown body_encoding, not text
            if not isinstance(payload, dict) or not payload.get("body"):
                raise  # not the body's fault: as kombu has it
            super().__init__({**payload, "body": None}, channel=channel, **kwargs)
            self._raw = payload  # what is restored, were it ever restored: as it came
            kind = f"{type(error).__module__}.{type(error).__qualname__}"
            self._undecodable(f"its body does not decode from its body_encoding ({kind})")
            return
        headers = self.headers
        if isinstance(headers, dict) and not isinstance(headers.get("task", ""), str):
            self._undecodable("its task header is not a string")

    def _undecodable(self, reason: str) -> None:
        error = UndecodableMessage(reason)
        if self.errors is None:
            self.errors = []
        self.errors.append((UndecodableMessage, error, None))


class Channel(redis.Channel):
    """Kombu's Redis channel, receiving our ``Message``."""

    Message = Message


class Transport(redis.Transport):
    """Kombu's Redis transport, with our ``Channel``."""

    Channel = Channel
