"""Pytest plugin: the `twilio_sandbox` fixture, a running Twilio sandbox for one test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from twilio_component.sandbox import Sandbox

__all__ = ["twilio_sandbox"]


@pytest.fixture
def twilio_sandbox() -> Iterator[Sandbox]:
    """A Twilio sandbox on a free loopback port, started for the test and stopped after it.

    Point a Twilio client at ``twilio_sandbox.base_url`` with ``twilio_sandbox.account_sid``
    and ``twilio_sandbox.auth_token``; messages move to ``delivered`` within about 0.1 s
    (``twilio_sandbox.settle()`` waits for it). ``twilio_sandbox.receive(from_, to, body)``
    makes a message arrive at one of its numbers (signed webhook to the number's SmsUrl);
    ``twilio_sandbox.faults`` arms 429s, 5xx and undelivered recipients.
    """
    from twilio_component.sandbox import Sandbox  # imported late: pytest loads this plugin always

    with Sandbox() as sandbox:
        yield sandbox
