"""``verify start|check`` (one-time codes with Twilio Verify) and ``lookup`` (a phone number)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from twilio_component.cli.arguments import network_options
from twilio_component.cli.console import EPILOG, EXIT_OK, EXIT_REFUSED, Console
from twilio_component.cli.send import execute, step_parameters, write_sent
from twilio_component.cli.target import target

_VERIFY_EXAMPLES = """\
examples:
  twilio-component verify start --service VA… --to +15558675310
  twilio-component verify check --service VA… --to +15558675310 --code 123456
"""
_LOOKUP_EXAMPLES = """\
examples:
  twilio-component lookup +14158675309
  twilio-component lookup "(415) 867-5309" --country US
  twilio-component lookup "020 7946 0958" --country GB --fields line_type_intelligence
"""


def add(commands: Any) -> None:
    """The verify and lookup commands."""
    verify = commands.add_parser(
        "verify",
        help="send a one-time code (verify start) and check it (verify check) with Twilio Verify",
        description="One-time codes with Twilio Verify: start sends a code, check checks the "
        "code the person typed. Each prints the verification output object.",
        epilog=_VERIFY_EXAMPLES + "\n" + EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    steps = verify.add_subparsers(dest="verify_command", required=True, metavar="start|check")
    start = steps.add_parser(
        "start",
        help="send a code (startVerification)",
        description="Send a one-time code and print the verification (status pending).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check = steps.add_parser(
        "check",
        help="check a code (checkVerification): exit 0 when approved, 3 when it is not",
        description="Check a code and print the verification: exit 0 when it is approved, 3 "
        "when the code is wrong (valid false) or the verification is over (Twilio's 20404).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for parser in (start, check):
        parser.add_argument("--service", metavar="VA…", help="the Verify Service SID")
        parser.add_argument("--to", metavar="TO", help="the E.164 number (or email) of the person")
    start.add_argument("--channel", default="sms", help="sms (default), call, whatsapp or email")
    check.add_argument("--code", metavar="CODE", help="the code the person typed")
    check.add_argument(
        "--verification", metavar="VE…", help="the verification to check, instead of --to"
    )
    for parser in (start, check):
        _params(parser, "startVerification" if parser is start else "checkVerification")
        network_options(parser)
    start.set_defaults(handler=verify_start)
    check.set_defaults(handler=verify_check)

    lookup = commands.add_parser(
        "lookup",
        help="look a phone number up (lookupPhoneNumber): valid, formats, country, line type",
        description="Look a phone number up with Twilio Lookup and print the lookup output "
        "object. Without --fields it is free: validity, formats and country.",
        epilog=_LOOKUP_EXAMPLES + "\n" + EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lookup.add_argument("number", metavar="NUMBER", help="E.164, or national with --country")
    lookup.add_argument("--country", metavar="CC", help="the number's country, e.g. US or GB")
    lookup.add_argument(
        "--fields",
        metavar="F,…",
        help="data packages, comma-separated, e.g. line_type_intelligence",
    )
    _params(lookup, "lookupPhoneNumber")
    network_options(lookup)
    lookup.set_defaults(handler=lookup_number)


def _params(parser: argparse.ArgumentParser, action: str) -> None:
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"any other {action} parameter by its descriptor name",
    )
    parser.add_argument(
        "--key", metavar="KEY", help="run at most once for this key (needs --journal)"
    )


def verify_start(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    """verify start: send a code and print the verification."""
    flags = {
        "ServiceSid": ("--service", args.service),
        "To": ("--to", args.to),
        "Channel": ("--channel", args.channel),
    }
    _run(args, console, environ, "startVerification", flags, what="verification")
    return EXIT_OK


def verify_check(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    """verify check: check a code; exit 0 when approved, 3 when not."""
    flags = {
        "ServiceSid": ("--service", args.service),
        "To": ("--to", args.to),
        "VerificationSid": ("--verification", args.verification),
        "Code": ("--code", args.code),
    }
    output = _run(args, console, environ, "checkVerification", flags, what="check")
    if output.get("status") == "approved":
        return EXIT_OK
    console.problem(
        f"the code is not right (status {output.get('status')}); nothing is approved. "
        "Ask for the code again, or start a new verification after 5 wrong checks."
    )
    return EXIT_REFUSED


def lookup_number(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    """lookup: print what Twilio Lookup says about a number."""
    fields = [f.strip() for f in args.fields.split(",")] if args.fields else None
    flags = {
        "PhoneNumber": ("NUMBER", args.number),
        "CountryCode": ("--country", args.country),
        "Fields": ("--fields", fields),
    }
    _run(args, console, environ, "lookupPhoneNumber", flags, what="lookup")
    return EXIT_OK


def _run(
    args: argparse.Namespace,
    console: Console,
    environ: Mapping[str, str],
    action: str,
    flags: Mapping[str, tuple[str, Any]],
    *,
    what: str,
) -> Mapping[str, Any]:
    step_type = f"twilio/v1/{action}"
    with target(args, console, environ) as (host, connections):
        parameters = step_parameters(host, step_type, flags, args.param)
        output: Mapping[str, Any] = execute(args, host, connections, step_type, parameters)
    write_sent(console, output, what=what)
    return output
