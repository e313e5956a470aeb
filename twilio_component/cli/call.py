"""``call``: place one call (makeCall), its output object printed."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from twilio_component.cli.arguments import network_options
from twilio_component.cli.console import EPILOG, EXIT_OK, Console
from twilio_component.cli.send import execute, step_parameters, write_sent
from twilio_component.cli.target import target

STEP_TYPE = "twilio/v1/makeCall"
_EXAMPLES = """\
examples:
  twilio-component call --sandbox --to +15558675310 --from +15005550006 --say "Hello"
  twilio-component call --to +15558675310 --from +15005550006 \\
      --twiml '<Response><Say>Press 1</Say><Gather numDigits="1" action="https://example.com/g"/></Response>'
  twilio-component call --to +15558675310 --from +15005550006 --url https://example.com/t.xml \\
      --param StatusCallback=https://example.com/status --param StatusCallbackEvent=answered
"""


def add(commands: Any) -> None:
    """The call command."""
    parser = commands.add_parser(
        "call",
        help="place one phone call (makeCall) and print the call output object",
        description="Place one call and print the call output object as JSON, at once (its "
        "status is queued; the call goes on at Twilio). Exactly one of --say, --twiml, --url "
        "or --param ApplicationSid=AP… says what the call does when answered.",
        epilog=_EXAMPLES + "\n" + EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--to", metavar="TO", help="who to call: E.164, sip:… or client:…")
    parser.add_argument(
        "--from",
        dest="from_",
        metavar="FROM",
        help="caller ID: a number of your account (E.164) or client:…",
    )
    parser.add_argument("--say", metavar="TEXT", help="a text read aloud when answered")
    parser.add_argument(
        "--twiml",
        metavar="XML",
        help="TwiML to run when answered, at most 4,000 characters, root <Response>",
    )
    parser.add_argument("--url", metavar="URL", help="where Twilio fetches the call's TwiML")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any other makeCall parameter by its descriptor name, e.g. Timeout=30, Voice=woman, "
        "StatusCallbackEvent=ringing (repeat for a list)",
    )
    parser.add_argument(
        "--key",
        metavar="KEY",
        help="place the call at most once for this key (needs --journal): the same key again "
        "prints the recorded output and calls no one",
    )
    network_options(parser)
    parser.set_defaults(handler=call)


def call(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    """call: run one makeCall step and print its output object."""
    with target(args, console, environ) as (host, connections):
        flags = {
            "To": ("--to", args.to),
            "From": ("--from", args.from_),
            "Say": ("--say", args.say),
            "Twiml": ("--twiml", args.twiml),
            "Url": ("--url", args.url),
        }
        parameters = step_parameters(host, STEP_TYPE, flags, args.param)
        output = execute(args, host, connections, STEP_TYPE, parameters)
    write_sent(console, output, what="call")
    return EXIT_OK
