"""The arguments commands share: value types, the sending options, NAME=VALUE pairs and JSON
files read strictly."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twilio_component.cli.console import UsageError


def network_options(sub: argparse.ArgumentParser) -> None:
    """The options of every command that sends: sandbox, timeout, reconcile, journal."""
    sub.add_argument(
        "--sandbox",
        action="store_true",
        help="send to an embedded Twilio sandbox on loopback (no credentials needed; "
        "nothing reaches a real phone)",
    )
    sub.add_argument(
        "--timeout",
        type=positive_float,
        metavar="S",
        help="seconds to wait for Twilio's answer (default 30; connect at most 5)",
    )
    sub.add_argument(
        "--reconcile",
        action="store_true",
        help="when the outcome is unknown, look the message up in Twilio's log "
        "and return it if found (never re-sends)",
    )
    sub.add_argument(
        "--journal",
        type=journal_target,
        metavar="PATH",
        help="an SQLite file recording each keyed step and event, so a rerun after a crash "
        "sends nothing twice (created when missing), or a postgresql://user@host/db URL",
    )
    connection_option(sub)


def journal_target(text: str) -> str:
    """A journal: an SQLite file path or a postgresql:// URL (never echoed with a password)."""
    from twilio_component.journal.targets import target_problem

    problem = target_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def server_journal(text: str) -> str:
    """A journal that workers share: a postgresql:// URL."""
    from twilio_component.journal.targets import is_server

    journal_target(text)
    if not is_server(text):
        raise argparse.ArgumentTypeError(
            "workers share one journal on a PostgreSQL server (postgresql://user@host/db); "
            "an SQLite file is one machine's alone"
        )
    return text


def connection_option(sub: argparse.ArgumentParser) -> None:
    """--connection COMPONENT=FILE.json, repeatable: any component's connection."""
    sub.add_argument(
        "--connection",
        action="append",
        default=[],
        metavar="COMPONENT=FILE.json",
        help="the connection of a component, by name or type, as a JSON object in a file "
        "(repeat per component); Twilio's comes from TWILIO_* unless given here",
    )


def port(text: str) -> int:
    """A port number, 0 to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0 to 65535)")
    return value


def rate(text: str) -> float:
    """A rate, more than 0 and at most 10,000 a second."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of segments per second"
        ) from None
    if not 0 < value <= 10_000:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 10000 segments a second")
    return value


def concurrency(text: str) -> int:
    """Requests in flight, 1 to 256."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError("must be 1 to 256")
    return value


def positive_float(text: str) -> float:
    """Seconds, more than 0 and at most an hour."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 3600 seconds")
    return value


def milliseconds(text: str) -> int:
    """Milliseconds, 0 to an hour."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number of milliseconds"
        ) from None
    if not 0 <= value <= 3_600_000:
        raise argparse.ArgumentTypeError(f"{value} is not a latency (0 to 3600000 milliseconds)")
    return value


def at_least_one(text: str) -> int:
    """A whole number, 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


def pairs(items: Sequence[str], flag: str) -> list[tuple[str, str]]:
    """``NAME=VALUE`` items as pairs; UsageError naming the flag when one is not."""
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"{flag} {item!r}: expected NAME=VALUE")
        pairs.append((name.strip(), value))
    return pairs


def read_json(path: str) -> Any:
    """A step, workflow or connection file: UTF-8 JSON, each key once, at most 64 deep."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{path}: not UTF-8 text (byte {exc.start} cannot be decoded); save it as UTF-8"
        ) from None
    try:
        document = json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except _DuplicateKey as exc:
        raise UsageError(
            f"{path}: the key {exc.key!r} is given twice in one object; keep one"
        ) from None
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise _too_deep(path) from None
    if _depth(document) > _MAX_DEPTH:
        raise _too_deep(path)
    return document


def _too_deep(path: str) -> UsageError:
    return UsageError(
        f"{path}: nested more than {_MAX_DEPTH} levels deep; no step or workflow is that deep"
    )


#: How deep a step or workflow file may nest (objects and lists); real ones stay under ten.
_MAX_DEPTH = 64


def _depth(document: Any) -> int:
    """How many objects and lists deep ``document`` nests, counted without recursion."""
    deepest, level = 0, [(document, 1)]
    while level:
        value, depth = level.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            children = value.values() if isinstance(value, dict) else value
            if depth <= _MAX_DEPTH:
                level.extend((child, depth + 1) for child in children)
    return deepest


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different (``json`` would keep the last silently)."""
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _DuplicateKey(key)
        document[key] = value
    return document
