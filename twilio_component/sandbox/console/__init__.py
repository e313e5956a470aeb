"""The sandbox's web console: its access token and the static page served under ``/_console/``."""

from twilio_component.sandbox.console.access import (
    CONSOLE_CHALLENGE,
    CONSOLE_HEADER,
    ConsoleAccess,
)
from twilio_component.sandbox.console.pages import CONSOLE_PREFIX, ConsolePages

__all__ = ["CONSOLE_CHALLENGE", "CONSOLE_HEADER", "CONSOLE_PREFIX", "ConsoleAccess", "ConsolePages"]
