"""The ``twilio-component`` command: one module per command, each parsing its arguments, calling
the layers below and printing. Nothing imports this package but ``__main__`` (and the
``twilio-component`` script)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from contextlib import redirect_stderr, redirect_stdout
from typing import TYPE_CHECKING, TextIO

from twilio_component.cli import (
    agents,
    call,
    campaign,
    describe,
    distributed,
    listen,
    optouts,
    run,
    sandbox,
    send,
    verify,
)
from twilio_component.cli.console import (
    EPILOG,
    EXIT_OTHER,
    Console,
    Parser,
    SentThenFailed,
    UsageError,
    exit_code,
    report,
)
from twilio_component.errors import ComponentError

if TYPE_CHECKING:
    from twilio_component.twilio.settings import Settings

__all__ = ["build_parser", "exit_code", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command; each command's handler is its ``handler``."""
    parser = Parser(
        prog="twilio-component",
        description="Send and receive Twilio messages as workflow steps and triggers, on Twilio "
        "or an embedded sandbox.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from twilio_component import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )

    send.add(commands)
    call.add(commands)
    verify.add(commands)
    optouts.add(commands)
    run.add(commands)
    listen.add(commands)
    campaign.add(commands)
    describe.add(commands)
    sandbox.add(commands)
    distributed.add_worker(commands)
    agents.add(commands)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    settings: Settings | None = None,
) -> int:
    """Run the command line; return the exit code.

    ``environ``, ``stdout`` and ``stderr`` replace the process's own; ``settings`` are the
    host's options for ``send`` and ``run`` (e.g. a retry policy that does not sleep, in tests),
    which the command's own flags (``--timeout``, ``--reconcile``) still adjust.
    """
    env = os.environ if environ is None else environ
    console = Console(
        stdout or sys.stdout,
        stderr or sys.stderr,
        [env.get("TWILIO_AUTH_TOKEN", ""), env.get("TWILIO_API_SECRET", "")],
    )
    try:
        with redirect_stdout(console.out), redirect_stderr(console.err):
            args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, --version, or a usage error (exit 2), said already
        return done.code if isinstance(done.code, int) else EXIT_OTHER
    args.settings = settings
    try:
        return int(args.handler(args, console, env))
    except (ComponentError, UsageError, SentThenFailed) as error:
        report(error, console)
        return exit_code(error)
    except KeyboardInterrupt:
        console.problem("interrupted before anything was sent.")
        return 130
    except Exception as error:  # a bug: say what, never a traceback that could carry secrets
        console.problem(f"error: unexpected {type(error).__name__}: {error}")
        return EXIT_OTHER
