"""Opt-outs as Twilio keeps them for a number: a one-word STOP-family reply to a sandbox number
blocks that number's messages to the sender (21610) until START, each answered with Twilio's
automatic reply."""

from __future__ import annotations

import threading
from typing import Final

from twilio_component.twilio.consent import OPT_IN, OPT_OUT

__all__ = ["STOP_REPLY", "OptOutList"]

#: Twilio's default answer to STOP (FACTS: secondary source).
STOP_REPLY: Final = (
    "You have successfully been unsubscribed. You will not receive any more messages from "
    "this number. Reply START to resubscribe."
)
#: The answer to START (unverified: Twilio's exact default text was not found).
START_REPLY: Final = (
    "You have successfully been re-subscribed to messages from this number. Reply HELP for "
    "help. Reply STOP to unsubscribe."
)


class OptOutList:
    """Who opted out of which sandbox number; thread-safe."""

    def __init__(self) -> None:
        self._blocked: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def note(self, body: str, sender: str, number: str) -> str | None:
        """Take in a reply ``body`` from ``sender`` to ``number``; Twilio's automatic answer
        when it was STOP or START (a single word, any case), else None."""
        word = body.strip().upper()
        with self._lock:
            if word in OPT_OUT:
                self._blocked.add((sender, number))
                return STOP_REPLY
            if word in OPT_IN and (sender, number) in self._blocked:
                self._blocked.discard((sender, number))
                return START_REPLY
        return None

    def blocks(self, recipient: str, sender: str | None) -> bool:
        """Whether ``recipient`` opted out of ``sender``."""
        with self._lock:
            return sender is not None and (recipient, sender) in self._blocked

    def clear(self) -> None:
        """Forget every opt-out."""
        with self._lock:
            self._blocked.clear()
