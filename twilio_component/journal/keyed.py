"""Keyed steps: the journal decides whether a step may be sent, and records what happened."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any, Protocol

from twilio_component.errors import (
    ComponentError,
    JournalUnavailableError,
    KeyBusyError,
    KeyConflictError,
    KeyHeldError,
    RecordedRefusal,
    RefusedError,
    UnknownOutcomeError,
    UnrecordedError,
)
from twilio_component.journal.store import Claim, Journal, new_owner

__all__ = ["LookUp", "Outcomes", "Send", "run_claimed", "run_once"]


class Outcomes(Protocol):
    """Where a keyed step's outcome is recorded: a Journal, or a Deferred."""

    def sent(self, key: str, owner: str, output: Mapping[str, Any]) -> None:
        """Record the step's output."""

    def failed(self, key: str, owner: str, code: int | None, message: str) -> None:
        """Record the service's refusal."""

    def unknown(self, key: str, owner: str, message: str) -> None:
        """Record that the request may have been received."""

    def release(self, key: str, owner: str) -> None:
        """Give the key back as never sent."""


#: Runs the step: its output object, or a ComponentError saying whether anything may have left.
Send = Callable[[], dict[str, Any]]
#: Finds an earlier attempt (made around the given time) in the service's own records: its
#: output, None when it certainly was not received; UnknownOutcomeError when it cannot tell.
LookUp = Callable[[datetime], "dict[str, Any] | None"]

#: How long a write of what was sent waits for a journal that cannot be reached (a server
#: restarting) before giving up; the key then stays claimed and is reconciled later.
RECORD_PATIENCE = 30.0


def run_once(
    journal: Journal,
    key: str,
    *,
    step_type: str,
    parameters: Mapping[str, Any],
    send: Send,
    look_up: LookUp | None,
) -> dict[str, Any]:
    """Run a validated step at most once for ``key`` (see Host.execute).

    What happens to the key after a failure depends only on whether the request may have
    reached the service (``may_have_sent``): a refusal for good is recorded as failed, anything
    that certainly sent nothing (a refusal for now, a request that never left, parameters or a
    connection refused before sending) gives the key back as pending, and everything else
    (a timeout, an interrupt, a handler's crash) leaves it unknown, to be looked up first.
    """
    owner = new_owner()
    with _before_sending(journal):
        claim = journal.claim(key, step_type, parameters, owner)
    return run_claimed(journal, claim, owner=owner, send=send, look_up=look_up)


def run_claimed(
    journal: Journal,
    claim: Claim,
    *,
    owner: str,
    send: Send,
    look_up: LookUp | None,
    outcomes: Outcomes | None = None,
) -> dict[str, Any]:
    """Run a step whose key ``owner`` has claimed (``Journal.claim``, or ``claim_many`` for a
    batch of them, one commit for all), as ``run_once`` does after its claim. Its outcome is
    recorded by ``outcomes`` (the journal itself unless told: a ``Deferred`` holds it back to
    be written with others)."""
    record = claim.record
    outcomes = journal if outcomes is None else outcomes
    key, step_type = record.key, record.step_type
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
        with _before_sending(journal):
            found = _reconcile(
                journal,
                key,
                owner=owner,
                step_type=step_type,
                look_up=look_up,
                at=record.attempted_at,
            )
            if found is not None:
                return found
            journal.mark_attempt(key, owner)  # a new claim was marked when it was made
    try:
        output = send()
    except RefusedError as refused:
        if refused.retry_later:  # refused for now, not for good: a rerun sends it
            _whatever_the_journal_says(journal, lambda: outcomes.release(key, owner))
        else:
            code, why = getattr(refused, "code", None), _first_line(refused)
            _whatever_the_journal_says(
                journal, lambda: _record(journal, lambda: outcomes.failed(key, owner, code, why))
            )
        raise
    except ComponentError as error:
        if error.may_have_sent:
            what = f"{type(error).__name__}: {_first_line(error)}"
            _whatever_the_journal_says(journal, lambda: outcomes.unknown(key, owner, what))
        else:  # nothing left: the key is as if never tried
            _whatever_the_journal_says(journal, lambda: outcomes.release(key, owner))
        raise
    except BaseException as error:  # an interrupt: the request may be on its way
        what = f"{type(error).__name__}: {_first_line(error)}"
        _whatever_the_journal_says(journal, lambda: outcomes.unknown(key, owner, what))
        raise
    try:
        _record(journal, lambda: outcomes.sent(key, owner, output))
    except journal.errors as error:
        raise UnrecordedError(key, journal.path, _first_line(error), output) from None
    return output


@contextmanager
def _before_sending(journal: Journal) -> Iterator[None]:
    """The journal's failures before anything is sent: JournalUnavailableError (nothing was
    sent), except a transient one (a server restarting), which the caller may wait out."""
    try:
        yield
    except journal.errors as error:
        if isinstance(error, journal.transient):
            raise
        raise JournalUnavailableError(journal.path, _first_line(error)) from None


def _whatever_the_journal_says(journal: Journal, write: Callable[[], None]) -> None:
    """Write an outcome whose error is raised anyway; if the journal fails, the claim stays
    with its attempt marked, and the next claim looks the step up before sending."""
    with suppress(*journal.errors):
        write()


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
    journal: Journal,
    key: str,
    *,
    owner: str,
    step_type: str,
    look_up: LookUp | None,
    at: float | None,
) -> dict[str, Any] | None:
    """The output of an earlier attempt found in the service's log, or None when it certainly
    was not received (the caller sends); held when that cannot be told."""
    if look_up is None:
        reason = f"{step_type} has no way to look up an earlier attempt"
        journal.held(key, owner, reason)
        raise KeyHeldError(key, reason)
    try:
        found = look_up(datetime.fromtimestamp(at or 0, UTC))
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


def mark_unsent(
    journal: Journal, key: str, step: Mapping[str, Any], state: str, *values: Any
) -> None:
    """Record a keyed step as ``state`` (``opted_out``, ``deferred``…) without sending it,
    before any claim of it: a worker's row skipped or put off. A key an earlier attempt may
    have sent is left for its lookup, and one another process holds is left to it."""
    from twilio_component.journal.store import new_owner

    owner = new_owner()
    claim = journal.claim(key, str(step["type"]), step.get("parameters", {}), owner)
    fresh = claim.kind == "new" or (claim.kind == "reconcile" and claim.record.attempted_at is None)
    if fresh:
        with journal.database.transaction() as db:
            journal.write_outcome(db, key, owner, *journal.outcome(state, *values))
