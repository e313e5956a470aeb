"""``sandbox``: a Twilio sandbox served until interrupted."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping
from typing import Any

from twilio_component.cli.arguments import at_least_one, milliseconds, port
from twilio_component.cli.console import EXIT_OK, Console, UsageError


def add(commands: Any) -> None:
    """The sandbox command and its options."""
    parser = commands.add_parser(
        "sandbox",
        help="serve the Twilio sandbox until interrupted",
        description="Serve a Twilio-compatible sandbox. Prints one JSON line with base_url, "
        "account_sid, auth_token and console_url (a web page showing the sandbox's "
        "conversations live; its address holds an access token), then serves until "
        "interrupted.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=port, default=0, help="port, 0 to 65535 (default 0: a free one)"
    )
    parser.add_argument(
        "--account-sid",
        type=account_sid,
        metavar="AC…",
        help="the Account SID to accept: AC and 32 hexadecimal digits (default: random)",
    )
    parser.add_argument(
        "--auth-token",
        type=auth_token,
        metavar="TOKEN",
        help="the Auth Token to accept (default: random)",
    )
    parser.add_argument(
        "--number",
        action="append",
        default=[],
        metavar="E164",
        help="another sender number of the sandbox (+15005550006 always is one)",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="SK…:SECRET",
        help="an API key the sandbox also accepts, with its secret (repeatable)",
    )
    parser.add_argument(
        "--latency",
        type=milliseconds,
        default=0,
        metavar="MS",
        help="milliseconds to wait before answering each API request (default 0)",
    )
    parser.add_argument(
        "--max-concurrent",
        type=at_least_one,
        metavar="N",
        help="answer a create 429 (code 20429) while more than N API requests are in flight, "
        "as Twilio does past an account's limit (default: no limit)",
    )
    parser.set_defaults(handler=sandbox)


def account_sid(text: str) -> str:
    """An Account SID: AC and 32 hexadecimal digits."""
    if not re.fullmatch(r"AC[0-9a-fA-F]{32}", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not AC followed by 32 hexadecimal digits")
    return text


def auth_token(text: str) -> str:
    """An Auth Token: not empty, printable (never echoed back)."""
    if not text or not text.isprintable() or text.strip() != text:
        raise argparse.ArgumentTypeError(
            "must be printable text, not empty, without spaces around it"
        )
    return text


def sandbox(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    """sandbox: serve a Twilio sandbox until interrupted."""
    from twilio_component.sandbox import Sandbox
    from twilio_component.twilio.endpoint import is_loopback

    if not is_loopback(args.host):
        raise UsageError(
            f"--host {args.host!r}: the sandbox only listens on loopback (127.0.0.1, ::1)"
        )
    served = Sandbox(
        host=args.host,
        port=args.port,
        account_sid=args.account_sid,
        auth_token=args.auth_token,
        numbers=args.number,
        latency=args.latency / 1000,
        max_concurrent=args.max_concurrent,
    )
    for pair in args.api_key:
        sid, _, secret = pair.partition(":")
        try:
            served.add_api_key(sid, secret)
        except ValueError:
            # The argument holds a secret: say what is expected, never echo what was given.
            raise UsageError(
                "--api-key: expected SK followed by 32 hexadecimal digits, a colon, then the "
                "key's secret (SK…:SECRET)"
            ) from None
    served.start()
    try:  # an interrupt from here on, even while the line is printed, is the way to stop it
        console.out.write(
            json.dumps(
                {
                    "base_url": served.base_url,
                    "account_sid": served.account_sid,
                    "auth_token": served.auth_token,
                    "console_url": served.console_url,
                }
            )
            + "\n"
        )
        console.out.flush()
        served.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        served.stop()
    return EXIT_OK
