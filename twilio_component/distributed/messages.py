"""Task messages a worker cannot run are dropped with one log line, and the worker goes on.

Anything may land on the queue: a bug, another app's message, someone's LPUSH. Celery drops
some of those itself, logging their body and a traceback; others raised out of its event
loop and ended the worker, which put the message back on its way down and met it again when
it came back, forever. Here every message the worker cannot run is dropped (acknowledged or
rejected, never requeued) with one line naming its id and task, never its body:

- ``strategy`` is ``run_step``'s ``Task.Strategy``: it checks a message before Celery's default
  strategy builds a request from it (a body that decodes to protocol 2's ``[args, kwargs,
  embed]``, the headers a request needs, arguments ``run_step`` takes: ``arguments_problem``)
  and raises ``InvalidTaskError`` for one it cannot run, which Celery's consumer hands to its
  ``on_invalid_task``.
- ``Consumer`` is the app's ``worker_consumer``: Celery's consumer, whose hooks for a message
  it cannot run (``on_decode_error``, ``on_unknown_message``, ``on_unknown_task``,
  ``on_invalid_task``) log that one line instead of the body and a traceback.
- ``transport.Transport`` hands a body that does not decode from base64 to ``on_decode_error``.
"""

from __future__ import annotations

import logging
import math
import reprlib
from collections.abc import Callable, Mapping
from typing import Any

from celery import signals
from celery.exceptions import InvalidTaskError
from celery.worker.consumer import Consumer as CeleryConsumer
from celery.worker.strategy import default

from twilio_component.distributed.transport import UndecodableMessage

__all__ = ["Consumer", "arguments_problem", "discard", "message_problem", "strategy"]

log = logging.getLogger(__name__)

#: The task's arguments: ``step`` and ``key`` (positional or keyword), the rest keyword only.
POSITIONAL = ("step", "key")
KEYWORDS = frozenset({"step", "key", "pace", "slot", "tries", "campaign"})

_shown = reprlib.Repr()
_shown.maxstring = _shown.maxother = 80


def discard(message: Any, reason: str, body: Any = None) -> None:
    """Log, on one line, that ``message`` is dropped and why: its id and task, never its body
    (``body``: a protocol 1 body, where the id and task are)."""
    headers = getattr(message, "headers", None)
    fields = headers if isinstance(headers, dict) else {}
    if "task" not in fields and isinstance(body, dict):
        fields = body
    ident = f"id {_shown.repr(fields['id'])}" if "id" in fields else "no id"
    task = f"task {_shown.repr(fields['task'])}" if "task" in fields else "no task"
    log.error("discarded a task message (%s, %s): %s", ident, task, " ".join(reason.split()))


def strategy(task: Any, app: Any, consumer: Any, **options: Any) -> Callable[..., Any]:
    """Celery's default strategy for ``task``, given only messages the task can run; any other
    raises ``InvalidTaskError`` (the consumer drops it)."""
    handle = default(task, app, consumer, **options)

    def checked(message: Any, body: Any, ack: Any, reject: Any, callbacks: Any, **more: Any) -> Any:
        problem = message_problem(message, body)
        if problem is not None:
            raise InvalidTaskError(problem)
        return handle(message, body, ack, reject, callbacks, **more)

    return checked


def message_problem(message: Any, body: Any = None) -> str | None:
    """Why Celery could not run ``message`` as a ``run_step`` task (None: it can): its headers,
    its body (``body``: a protocol 1 body, which we never send), its arguments."""
    if body is not None:
        return "it has no task header (Celery's message protocol 1)"
    problem = _headers_problem(message.headers)
    if problem is not None:
        return problem
    if not message.body:
        return "its body is empty"
    try:
        payload = message.payload
    except Exception as error:  # not JSON, not text, a content type we do not accept
        return f"its body does not decode as {_shown.repr(message.content_type)} ({_kind(error)})"
    if not isinstance(payload, list) or len(payload) != 3:
        return f"its body is {_what(payload)}, not protocol 2's array [args, kwargs, embed]"
    args, kwargs, embed = payload
    if embed is not None and not isinstance(embed, dict):
        return f"its embed (callbacks, chain, chord) is {_what(embed)}, not an object"
    return arguments_problem(args, kwargs)


def _headers_problem(headers: Mapping[str, Any]) -> str | None:
    """What a request needs of the headers: an id, and time limits and a retry count it can
    read."""
    ident = headers.get("id")
    if not isinstance(ident, str) or not ident:
        return f"its id header is {_what(ident) if 'id' in headers else 'missing'}, not a string"
    limits = headers.get("timelimit")
    if limits is not None and not (
        isinstance(limits, list) and len(limits) == 2 and all(_seconds(s) for s in limits)
    ):
        return "its timelimit header is not [hard, soft] (seconds or null)"
    if not _count(headers.get("retries", 0)):
        return f"its retries header is {_what(headers['retries'])}, not a count"
    return None


def arguments_problem(args: Any, kwargs: Any) -> str | None:
    """Why ``run_step`` cannot take ``args`` and ``kwargs`` (None: it can)."""
    if not isinstance(args, list):
        return f"its args are {_what(args)}, not an array"
    if not isinstance(kwargs, dict):
        return f"its kwargs are {_what(kwargs)}, not an object"
    if len(args) > len(POSITIONAL):
        return f"it has {len(args)} positional arguments; the task takes at most 2 (step, key)"
    given = dict(zip(POSITIONAL, args, strict=False))
    for name in kwargs:
        if name in given:
            return f"it gives {name} twice (positional and keyword)"
        if name not in KEYWORDS:
            return f"the task takes no argument {_shown.repr(name)}"
    given.update(kwargs)
    for name in POSITIONAL:
        if name not in given:
            return f"it has no {name}"
    step, key = given["step"], given["key"]
    if not isinstance(step, dict):
        return f"its step is {_what(step)}, not an object"
    if not isinstance(step.get("type"), str) or not step["type"]:
        return f"its step's type is {_what(step.get('type'))}, not a step type"
    if not isinstance(key, str) or not key:
        return f"its key is {_what(key)}, not a non-empty string"
    if given.get("pace"):
        problem = _pace_problem(given["pace"])
        if problem is not None:
            return problem
    if given.get("slot") is not None and not _seconds(given["slot"]):
        return f"its slot is {_what(given['slot'])}, not a time"
    if not _count(given.get("tries", 0)):
        return f"its tries is {_what(given['tries'])}, not a count"
    if given.get("campaign") is not None and not isinstance(given["campaign"], str):
        return f"its campaign is {_what(given['campaign'])}, not a name"
    return None


def _pace_problem(pace: Any) -> str | None:
    if not isinstance(pace, dict):
        return f"its pace is {_what(pace)}, not an object"
    if not isinstance(pace.get("sender"), str) or not pace["sender"]:
        return f"its pace's sender is {_what(pace.get('sender'))}, not a non-empty string"
    for name in ("cost", "mps"):
        value = pace.get(name)
        if value is None or not _seconds(value) or not value:
            return f"its pace's {name} is {_what(value)}, not a positive number"
    if pace.get("cap") is not None and not _count(pace["cap"]):
        return f"its pace's cap is {_what(pace['cap'])}, not a count"
    return None


def _seconds(value: Any) -> bool:
    """A finite number, not negative, or null."""
    if value is None:
        return True
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _what(value: Any) -> str:
    """What ``value`` is, as JSON names it (never the value itself)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number" if math.isfinite(value) else "not a finite number"
    if isinstance(value, str):
        return "a string" if value else "an empty string"
    if isinstance(value, list):
        return f"an array of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return f"not JSON ({type(value).__name__})"


def _kind(error: BaseException) -> str:
    return f"{type(error).__module__}.{type(error).__qualname__}"


class Consumer(CeleryConsumer):
    """Celery's worker consumer; a message it cannot run is dropped as Celery drops it
    (acknowledged or rejected, not requeued; the same signals), logged on one line."""

    connection_errors: tuple[type[BaseException], ...]  # set by Celery's consumer

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        """A message whose body does not decode: acknowledged."""
        if isinstance(exc, UndecodableMessage):
            discard(message, str(exc))
        else:
            discard(message, f"its body does not decode ({_kind(exc)})")
        message.ack_log_error(log, self.connection_errors)

    def on_unknown_message(self, body: Any, message: Any) -> None:
        """A message with no task header, or headers that are not an object: rejected."""
        if isinstance(message.headers, dict):
            discard(message, "it names no task", body)
        else:
            discard(message, f"its headers are {_what(message.headers)}, not an object")
        message.reject_log_error(log, self.connection_errors)
        signals.task_rejected.send(sender=self, message=message, exc=None)

    def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:
        """A message for a task this worker does not have: rejected (no result is stored:
        the app keeps none)."""
        discard(message, "this worker has no task of that name", body)
        message.reject_log_error(log, self.connection_errors)
        fields = message.headers if isinstance(message.headers, dict) else {}
        if "task" not in fields and isinstance(body, dict):
            fields = body
        signals.task_unknown.send(
            sender=self, message=message, exc=exc, name=fields.get("task"), id=fields.get("id")
        )

    def on_invalid_task(self, body: Any, message: Any, exc: Exception) -> None:
        """A task message the strategy cannot run (see ``message_problem``), or whose eta or
        expiry Celery cannot read, or of a content type not accepted: rejected."""
        discard(message, str(exc)[:300], body)
        message.reject_log_error(log, self.connection_errors)
        signals.task_rejected.send(sender=self, message=message, exc=exc)
