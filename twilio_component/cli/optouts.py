"""``optouts list|add|remove|import|export``: who asked not to be sent to, in the journal."""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from twilio_component.cli.arguments import journal_target
from twilio_component.cli.console import EPILOG, EXIT_OK, Console, Parser, UsageError

#: Where opt-outs are kept when --journal is not given: the campaigns' default journal.
DEFAULT_JOURNAL = "twilio-component-journal.db"
_ADDRESS = re.compile(r"(?:[A-Za-z][A-Za-z0-9-]*:)?\+[1-9][0-9]{1,14}")
_EXAMPLES = """\
examples:
  twilio-component optouts add +15558675310 --from +15005550006
  twilio-component optouts list
  twilio-component optouts remove +15558675310
  twilio-component optouts export > optouts.csv
  twilio-component optouts import optouts.csv
"""


def add(commands: Any) -> None:
    """The optouts command and its subcommands."""
    optouts = commands.add_parser(
        "optouts",
        help="list, add, remove, import and export opt-outs (replies such as STOP, 21610)",
        description="Opt-outs kept in the journal: recorded from STOP-family replies by "
        "listen --journal and from Twilio's 21610 refusals; campaigns skip them and send "
        "--journal refuses them (exit 3). Each applies to one sender (a number or a Messaging "
        "Service, as Twilio scopes them), or to every sender (*).",
        epilog=_EXAMPLES + "\n" + EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    steps = optouts.add_subparsers(
        dest="optouts_command", required=True, metavar="SUBCOMMAND", parser_class=Parser
    )
    listing = steps.add_parser("list", help="print the opt-outs as JSON")
    listing.add_argument("--from", dest="scope", metavar="SENDER", help="only of this sender")
    adding = steps.add_parser("add", help="add opt-outs")
    removing = steps.add_parser("remove", help="opt numbers back in")
    for parser, what in ((adding, "of this sender only (default: every sender, *)"),
                         (removing, "of this sender only (default: of every one)")):  # fmt: skip
        parser.add_argument("addresses", nargs="+", metavar="NUMBER", type=address)
        parser.add_argument("--from", dest="scope", metavar="SENDER", help=what)
    importing = steps.add_parser(
        "import", help="add the opt-outs of a CSV (a column address, or the first one)"
    )
    importing.add_argument("file", metavar="FILE.csv")
    importing.add_argument(
        "--from", dest="scope", metavar="SENDER", help="when the file has no scope column"
    )
    steps.add_parser("export", help="print every opt-out as CSV: address,scope,source,at")
    for parser in steps.choices.values():
        parser.add_argument(
            "--journal",
            type=journal_target,
            default=DEFAULT_JOURNAL,
            metavar="PATH",
            help=f"the journal (default {DEFAULT_JOURNAL}; postgresql:// URLs too)",
        )
    for name, handler in (
        ("list", list_optouts),
        ("add", add_optouts),
        ("remove", remove_optouts),
        ("import", import_optouts),
        ("export", export_optouts),
    ):
        steps.choices[name].set_defaults(handler=handler)


def address(text: str) -> str:
    """An E.164 number, or one with a channel prefix such as whatsapp: (argparse type)."""
    value = text.strip()
    if not _ADDRESS.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an E.164 number (+ then up to 15 digits, e.g. +15558675310)"
        )
    return value


def _journal(args: argparse.Namespace) -> Any:
    from twilio_component.journal import open_journal

    return open_journal(args.journal)


def list_optouts(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    """optouts list: every opt-out as JSON."""
    found = _journal(args).optouts.listed(args.scope)
    console.result({"optouts": [vars_of(o) for o in found]})
    return EXIT_OK


def add_optouts(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    """optouts add: record opt-outs by hand."""
    scope = args.scope or "*"
    count = _journal(args).optouts.add_many([(a, scope) for a in args.addresses], source="added")
    console.result({"added": count, "scope": scope})
    return EXIT_OK


def remove_optouts(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    """optouts remove: opt numbers back in."""
    optouts = _journal(args).optouts
    count = sum(optouts.remove(a, args.scope) for a in args.addresses)
    console.result({"removed": count})
    return EXIT_OK


def import_optouts(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    """optouts import: add every opt-out of a CSV file, checked whole first."""
    pairs = list(_read(args.file, args.scope or "*"))
    count = _journal(args).optouts.add_many(pairs, source="imported")
    console.result({"added": count})
    return EXIT_OK


def _read(path: str, scope: str) -> Iterator[tuple[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            rows = list(csv.reader(file))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UsageError(f"{path}: cannot be read as CSV ({error})") from None
    if not rows:
        return
    header = [name.strip().lower() for name in rows[0]]
    named = "address" in header
    column = header.index("address") if named else 0
    scopes = header.index("scope") if "scope" in header else None
    problems = []
    found = []
    for line, row in enumerate(rows[1:] if named else rows, 2 if named else 1):
        if not row or not "".join(row).strip():
            continue
        value = row[column].strip() if column < len(row) else ""
        if not _ADDRESS.fullmatch(value):
            problems.append(f"{path}: line {line}: {value!r} is not an E.164 number")
            continue
        given = row[scopes].strip() if scopes is not None and scopes < len(row) else ""
        found.append((value, given or scope))
    if problems:
        raise UsageError("\n".join(problems) + "\nnothing was imported.")
    yield from found


def export_optouts(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    """optouts export: every opt-out as CSV on stdout."""
    writer = csv.writer(console.out if console.out is not None else sys.stdout)
    writer.writerow(("address", "scope", "source", "at"))
    for optout in _journal(args).optouts.listed():
        writer.writerow((optout.address, optout.scope, optout.source, optout.at))
    return EXIT_OK


def vars_of(optout: Any) -> dict[str, str]:
    """An opt-out as a JSON object."""
    return {
        "address": optout.address,
        "scope": optout.scope,
        "source": optout.source,
        "at": optout.at,
    }
