"""The Twilio component's checks across parameters that JSON Schema cannot say."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from twilio_component.errors import Problem
from twilio_component.twilio.voice import phone_caller_id, spoken_rule, twiml_rule
from twilio_component.validation import RuleCheck, parse_date_time, utc_stamp

__all__ = [
    "Clock",
    "channel",
    "requires_when_equal",
    "same_channel",
    "send_window",
    "twilio_rules",
    "utc_now",
]

Clock = Callable[[], datetime]
"""Gives the current time (timezone-aware); injected so tests can fix it."""

_CHANNEL_PREFIX: Final = re.compile(r"([A-Za-z][A-Za-z0-9-]*):")


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def channel(address: str) -> str:
    """The channel of an address: ``whatsapp`` for ``whatsapp:+1555…``, "" for a plain number."""
    match = _CHANNEL_PREFIX.match(address)
    return match.group(1).lower() if match else ""


def same_channel(parameters: Mapping[str, Any], rule: Mapping[str, Any]) -> list[Problem]:
    """The rule's parameters that are given must not mix a paired channel with another one."""
    given = [(n, parameters[n]) for n in rule["parameters"] if isinstance(parameters.get(n), str)]
    if len(given) < 2:
        return []
    paired = {name.lower() for name in rule["channels"]}
    (first, first_value), others = given[0], given[1:]
    first_channel = channel(first_value)
    problems = []
    for name, value in others:
        other_channel = channel(value)
        if other_channel == first_channel or not {first_channel, other_channel} & paired:
            continue
        reason = (
            f"is {_channel_name(other_channel)} but {first} is {_channel_name(first_channel)}; "
            + rule.get("message", "use the same channel for both")
        )
        problems.append(Problem(name, reason))
    return problems


def _channel_name(name: str) -> str:
    return f"a {name}: address" if name else "a plain number (SMS or MMS)"


def send_window(clock: Clock = utc_now) -> RuleCheck:
    """The check that each of a rule's date-times is inside its window: more than
    ``aheadMoreThan`` and at most ``aheadAtMost`` seconds from now.

    A value that is not a date and time with a zone is left to the schema's format check.
    """

    def check(parameters: Mapping[str, Any], rule: Mapping[str, Any]) -> list[Problem]:
        earliest = timedelta(seconds=rule["aheadMoreThan"])
        latest = timedelta(seconds=rule["aheadAtMost"])
        problems = []
        for name in rule["parameters"]:
            when = parse_date_time(parameters.get(name))
            if when is None:
                continue
            now = clock()
            ahead = when - now
            if earliest < ahead <= latest:
                continue
            advice = rule.get("message", "pick a time in the window")
            window = (
                f"right now: later than {utc_stamp(now + earliest)} "
                f"and no later than {utc_stamp(now + latest)}"
            )
            given = repr(parameters[name])
            if utc_stamp(when) not in given:
                given += f" ({utc_stamp(when)})"
            reason = f"{given} {_distance(ahead, earliest, latest)}; {advice} ({window})"
            problems.append(Problem(name, reason))
        return problems

    return check


def _distance(ahead: timedelta, earliest: timedelta, latest: timedelta) -> str:
    seconds = int(ahead.total_seconds())
    if seconds <= 0:
        return "is not in the future"
    if ahead <= earliest:
        return f"is only {seconds:,} seconds ahead, not more than {int(earliest.total_seconds()):,}"
    over = int((ahead - latest).total_seconds())
    return (
        f"is {seconds:,} seconds ahead, {over:,} more than the "
        f"{int(latest.total_seconds()):,} allowed"
    )


def requires_when_equal(parameters: Mapping[str, Any], rule: Mapping[str, Any]) -> list[Problem]:
    """``requires`` with ``equals``: when ``when`` has that value, the rule's parameters are needed.

    A ``requires`` rule without ``equals`` is JSON Schema's ``dependentRequired`` and is checked
    there, so it is skipped here.
    """
    if "equals" not in rule:
        return []
    value = parameters.get(rule["when"], _ABSENT)
    if value is _ABSENT or type(value) is not type(rule["equals"]) or value != rule["equals"]:
        return []
    reason = rule.get("message") or (
        f"is required when {rule['when']} is {json.dumps(rule['equals'])}"
    )
    return [Problem(name, reason) for name in rule["parameters"] if name not in parameters]


_ABSENT: Final = object()


def twilio_rules(clock: Clock = utc_now) -> dict[str, RuleCheck]:
    """The code-level rules of component.yaml, by rule name (``clock`` gives "now")."""
    return {
        "requires": requires_when_equal,
        "same_channel": same_channel,
        "send_window": send_window(clock),
        "twiml": twiml_rule,
        "spoken_twiml": spoken_rule,
        "phone_caller_id": phone_caller_id,
    }
