"""Keyed steps: the journal decides whether a step may be sent, and records what happened."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from twilio_component.component import Connection, Invocation
from twilio_component.errors import (
    KeyBusyError,
    KeyConflictError,
    KeyHeldError,
    NotSentError,
    RecordedRefusal,
    RefusedError,
    UnknownOutcomeError,
)
from twilio_component.journal import Journal, new_owner

if TYPE_CHECKING:
    from twilio_component.host import Host, _Entry


def execute_keyed(
    host: Host, entry: _Entry, parameters: Mapping[str, Any], connection: Connection, key: str
) -> dict[str, Any]:
    """Run a validated step at most once for ``key`` (see Host.execute)."""
    journal = host.journal
    owner = new_owner()
    claim = journal.claim(key, entry.type, parameters, owner)
    record = claim.record
    if claim.kind == "conflict":
        raise KeyConflictError(key, record.step_type)
    if claim.kind == "done" and record.state == "sent" and record.output is not None:
        return record.output
    if claim.kind == "done":
        raise RecordedRefusal(key, record.error_code, record.error or "refused")
    if claim.kind == "busy":
        raise KeyBusyError(key, record.owner)
    if claim.kind == "held":
        raise KeyHeldError(key, record.error or "held earlier")
    if claim.kind == "reconcile":
        found = _reconcile(
            host, entry, parameters, connection, key=key, owner=owner, at=record.attempted_at
        )
        if found is not None:
            return found
        journal.mark_attempt(key, owner)  # a new claim was marked when it was made
    try:
        output = host._run(entry, parameters, connection)
    except NotSentError:
        journal.release(key, owner)
        raise
    except RefusedError as refused:
        if refused.retry_later:  # refused for now, not for good: a rerun sends it
            journal.release(key, owner)
        else:
            code, why = getattr(refused, "code", None), _first_line(refused)
            _record(journal, lambda: journal.failed(key, owner, code, why))
        raise
    except BaseException as error:  # unknown outcome, a handler's failure, an interrupt
        journal.unknown(key, owner, f"{type(error).__name__}: {_first_line(error)}")
        raise
    _record(journal, lambda: journal.sent(key, owner, output))
    return output


#: How long a write of what was sent waits for a journal that cannot be reached (a server
#: restarting) before giving up; the key then stays claimed and is reconciled later.
RECORD_PATIENCE = 30.0


def _record(journal: Journal, write: Callable[[], None]) -> None:
    """Write an outcome that happened, trying again while the journal is briefly unreachable:
    the request has left, so giving up early would leave a key to reconcile for nothing."""
    deadline = time.monotonic() + RECORD_PATIENCE
    delay = 0.05
    while True:
        try:
            write()
        except journal.transient:
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(1.0, delay * 2)
        else:
            return


def _reconcile(
    host: Host,
    entry: _Entry,
    parameters: Mapping[str, Any],
    connection: Connection,
    *,
    key: str,
    owner: str,
    at: float | None,
) -> dict[str, Any] | None:
    """The output of an earlier attempt found in the service's log, or None when it certainly
    was not received (the caller sends); held when that cannot be told."""
    journal = host.journal
    reconciler = entry.component.reconcilers.get(entry.action.name)
    if reconciler is None:
        reason = f"{entry.type} has no way to look up an earlier attempt"
        journal.held(key, owner, reason)
        raise KeyHeldError(key, reason)
    when = datetime.fromtimestamp(at or 0, UTC)
    invocation = Invocation(entry.action, parameters, connection, host.runtime)
    try:
        found = reconciler(invocation, when)
    except UnknownOutcomeError as unclear:
        reason = _first_line(unclear)
        journal.held(key, owner, reason)
        raise KeyHeldError(key, reason) from None
    except BaseException as error:  # the lookup itself failed: still unknown, look again later
        journal.unknown(key, owner, f"lookup failed: {_first_line(error)}")
        raise
    if found is not None:
        journal.sent(key, owner, found)
    return found


def _first_line(error: BaseException) -> str:
    lines = str(error).splitlines()
    return lines[0] if lines else type(error).__name__
