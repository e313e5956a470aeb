"""What every command shares: exit codes, the console that never prints a secret, and how
an error is reported and mapped to its exit code."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

from twilio_component.errors import (
    ActionError,
    ConnectionConfigError,
    JournalUnavailableError,
    RefusedError,
    StepError,
    UnknownOutcomeError,
)

EXIT_OK = 0
EXIT_OTHER = 1
EXIT_INVALID = 2
EXIT_REFUSED = 3
EXIT_UNKNOWN = 4
EXIT_SENT_THEN_FAILED = 5

EPILOG = """\
exit codes:
  0  done
  1  anything else (e.g. Twilio could not be reached: nothing was sent)
  2  bad usage or invalid parameters: nothing was sent
  3  Twilio refused the request: nothing was sent
  4  the outcome is unknown: the message may have been sent; it was not retried
  5  something was sent, then a later part failed (a later workflow task, or writing the
     output): stderr names what was sent (SIDs); do not simply run it again

environment:
  TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN   the connection (or, never both, TWILIO_API_KEY + _SECRET)
  TWILIO_API_BASE_URL                     API root (default https://api.twilio.com)
  TWILIO_REGION, TWILIO_EDGE              route to https://api.{edge}.{region}.twilio.com
"""


class UsageError(Exception):
    """Bad command-line usage (exit 2)."""


class SentThenFailed(Exception):
    """Something was sent, then a later part of the command failed (exit 5)."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors exit 2, as every bad usage does."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


class Console:
    """Writes results to stdout and problems to stderr, never letting a secret through."""

    def __init__(self, out: TextIO, err: TextIO, secrets: Sequence[str] = ()) -> None:
        self.out = out
        self.err = err
        self.secrets = [s for s in secrets if len(s) >= 4]

    def redact(self, text: str) -> str:
        """``text`` with every known secret masked."""
        for secret in self.secrets:
            if len(secret) >= 4:
                text = text.replace(secret, "********")
        return text

    def result(self, data: Any) -> None:
        """Print a JSON result on stdout."""
        self.out.write(self.redact(json.dumps(data, indent=2, ensure_ascii=False)) + "\n")

    def problem(self, line: str) -> None:
        """Print one line on stderr."""
        self.err.write(self.redact(line) + "\n")


def exit_code(error: BaseException) -> int:
    """The documented exit code for an error."""
    from twilio_component.workflow import WorkflowFailed

    if isinstance(error, SentThenFailed):
        return EXIT_SENT_THEN_FAILED
    if isinstance(error, JournalUnavailableError):  # --journal names one that cannot be used
        return EXIT_INVALID
    if isinstance(error, WorkflowFailed):
        return EXIT_SENT_THEN_FAILED if error.run.tasks else exit_code(error.error)
    if isinstance(error, UnknownOutcomeError | ActionError):
        return EXIT_UNKNOWN
    if isinstance(error, RefusedError):
        return EXIT_REFUSED
    if isinstance(error, (StepError, ConnectionConfigError, UsageError)):
        return EXIT_INVALID
    return EXIT_OTHER


def report(error: BaseException, console: Console) -> None:
    """Print an error on stderr: each problem on its line, or the error's lines."""
    from twilio_component.workflow import WorkflowFailed

    if isinstance(error, WorkflowFailed) and error.run.tasks:
        for task, sid in error.completed.items():
            console.problem(f"task {task!r} ran" + (f" and sent {sid}" if sid else ""))
        inner = error.error
        problems = getattr(inner, "problems", None)
        if problems:
            listed = "; ".join(one_line(str(p)) for p in problems)
            reason = f"it was not run ({listed})"
        else:
            reason = " ".join(one_line(line) for line in str(inner).splitlines())
        console.problem(f"task {error.task!r} failed after that: {reason}")
        console.problem(
            "the tasks above ran and sent what they sent; do not run the whole workflow again."
        )
        return
    if isinstance(error, WorkflowFailed):
        error = error.error
    problems = getattr(error, "problems", None)
    if problems and not getattr(error, "may_have_sent", False):
        for problem in problems:
            console.problem(str(problem))
        console.problem(f"nothing was sent ({len(problems)} problem(s)).")
        return
    label = "error"
    code = getattr(error, "code", None)
    if isinstance(error, RefusedError) and code is not None:
        label = f"error {code}"
    elif isinstance(error, JournalUnavailableError):
        label = "--journal"
    lines = [one_line(line) for line in str(error).splitlines()] or [type(error).__name__]
    for index, line in enumerate(lines):
        console.problem(f"{label}: {line}" if index == 0 else line)


def one_line(text: str) -> str:
    """``text`` with control characters (ANSI escapes, CR, BEL…) escaped, so it stays one line."""
    return "".join(c if c.isprintable() or c == "\t" else repr(c)[1:-1] for c in text)


def quiet_stdout(console: Console) -> None:
    """Point stdout at /dev/null after its reader went away, so exiting flushes nowhere."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, console.out.fileno())
