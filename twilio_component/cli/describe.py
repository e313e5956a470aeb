"""``describe`` and ``estimate``: what editors and docs see, and a body's segments; no
credentials, nothing sent."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from twilio_component.cli.console import EXIT_OK, Console, UsageError


def add(commands: Any) -> None:
    """The describe and estimate commands."""
    described = commands.add_parser(
        "describe",
        help="print the palette entry, the JSON Schemas or the reference page",
        description="Print what editors and docs see, generated from component.yaml.",
    )
    described.add_argument(
        "--format",
        choices=("palette", "jsonschema", "markdown"),
        default="palette",
        help="palette: the editor's palette entry (JSON, the default); jsonschema: the "
        "connection, parameter and output schemas (JSON Schema 2020-12); markdown: the "
        "reference page",
    )
    described.add_argument(
        "--component",
        metavar="NAME",
        help="the component to describe, by name (twilio) or type (twilio/v1); default: every "
        "installed component (one document, or a list when several are installed)",
    )

    estimated = commands.add_parser(
        "estimate",
        help="count the SMS segments of a body (GSM-7 or UCS-2)",
        description="Print, as JSON, the encoding Twilio would use for a body, its segments, "
        "the characters that force UCS-2 and what Smart Encoding would change. Sends nothing "
        "and needs no credentials.",
    )
    estimated.add_argument("--body", required=True, metavar="TEXT", help="the message text")
    estimated.add_argument(
        "--smart-encoding",
        action="store_true",
        help="count as Twilio would with Smart Encoding (look-alikes replaced)",
    )

    described.set_defaults(handler=describe)
    estimated.set_defaults(handler=estimate)


def describe(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    """describe: the palette entry, JSON Schemas or reference page of installed components."""
    from twilio_component import describe as describing
    from twilio_component.host import Host

    with Host.load() as host:
        try:
            document = describing.render(args.format, host, component=args.component)
        except KeyError as error:
            raise UsageError(f"--component {args.component!r}: {error.args[0]}") from None
    if isinstance(document, str):
        console.out.write(document)
    else:
        console.result(document)
    return EXIT_OK


def estimate(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    """estimate: a body's encoding and segments."""
    from twilio_component.twilio.segments import estimate as count

    console.result(count(args.body, smart_encoding=args.smart_encoding))
    return EXIT_OK
