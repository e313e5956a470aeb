"""``listen``: a workflow's trigger served, the workflow run once per event."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from twilio_component.cli.arguments import network_options, port, read_json
from twilio_component.cli.console import EPILOG, EXIT_OK, Console, SentThenFailed, UsageError
from twilio_component.cli.target import target


def add(commands: Any) -> None:
    """The listen command: serve a workflow's trigger."""
    parser = commands.add_parser(
        "listen",
        help="serve a workflow's trigger (incoming SMS, status callbacks) and run it per event",
        description="Serve the webhook of a workflow's trigger and run the workflow once per "
        "event. Prints one JSON line with webhook_url and local_url (and the sandbox's "
        "base_url, account_sid, auth_token and console_url with --sandbox), then one JSON "
        "line per run. For "
        "newIncomingSMS it points the number's SMS webhook here (unless --no-register) and "
        "puts the old one back on SIGINT or SIGTERM.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "workflow",
        metavar="WORKFLOW.json",
        help='a workflow with "trigger": {"type": "twilio/v1/newIncomingSMS", "parameters": '
        '{"PhoneNumber": "+1…"}} (or "twilio/v1/messageStatus", registered nowhere: give its '
        "webhook_url as sendMessage's StatusCallback) whose tasks may use ${trigger.field}",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)",
    )
    parser.add_argument(
        "--port", type=port, default=0, help="port, 0 to 65535 (default 0: a free one)"
    )
    parser.add_argument(
        "--public-url",
        metavar="URL",
        help="the URL Twilio calls when it is not this process's own (a proxy or tunnel, e.g. "
        "https://abc.ngrok.app/sms); signatures are checked against it, and this process "
        "serves the same path",
    )
    parser.add_argument(
        "--no-register",
        action="store_true",
        help="do not change the number's SMS webhook (it is configured by hand)",
    )
    parser.add_argument(
        "--take-over",
        action="store_true",
        help="replace a webhook URL the number already has (it is put back on exit)",
    )
    parser.add_argument(
        "--trust-forwarded",
        action="store_true",
        help="build the signed URL from X-Forwarded-Proto/Host (only behind a proxy you run)",
    )
    network_options(parser)
    parser.set_defaults(handler=listen)


def listen(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    """listen: serve a workflow's trigger until SIGINT or SIGTERM, then restore its webhook."""
    from twilio_component.errors import TriggerConflictError
    from twilio_component.triggers.listener import Listener, origin, webhook_path
    from twilio_component.triggers.server import serve, stop_signals

    document = read_json(args.workflow)
    if args.public_url is not None:
        parts = urlsplit(args.public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(
                f"--public-url {args.public_url!r}: expected the full URL Twilio calls, "
                "e.g. https://abc.ngrok.app/sms"
            )
    with target(args, console, environ) as (host, connections):
        listener = Listener(host, document, connections.for_component, console.out, console.redact)
        path = webhook_path(listener.trigger_type, args.public_url)
        public = origin(args.public_url) if args.public_url else None
        app = listener.app(public, path, args.trust_forwarded)
        listener.probe(args.public_url or f"http://127.0.0.1{path}")
        try:
            serving = serve(app, args.host, args.port)
            server = serving.__enter__()
        except OSError as error:
            raise UsageError(
                f"--host {args.host} --port {args.port}: cannot listen there ({error.strerror}); "
                "pick another port, or 0 for a free one"
            ) from None
        with contextlib.ExitStack() as stack:
            stack.push(serving)
            stop = stack.enter_context(stop_signals())
            bound_host, bound_port = str(server.server_address[0]), int(server.server_address[1])
            if bound_host in _EVERY_INTERFACE:  # this machine reaches it on loopback
                bound_host = _EVERY_INTERFACE[bound_host]
            shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
            local_url = f"http://{shown_host}:{bound_port}{path}"
            webhook_url = args.public_url or local_url
            register = listener.registers and not args.no_register
            if register:
                try:
                    earlier = listener.enable(webhook_url, take_over=args.take_over)
                except TriggerConflictError as conflict:
                    raise UsageError(str(conflict)) from None
                if earlier is not None:
                    console.problem(earlier)
            started = {
                "webhook_url": webhook_url,
                "local_url": local_url,
                "trigger": listener.trigger_type,
                "registered": register,
                **getattr(args, "sandbox_details", {}),
            }
            # The sandbox's credentials are printed for its clients, as `sandbox` prints them;
            # a real connection's never are (nothing else in this line is secret).
            listener.print(started, masked=False)
            try:
                while not stop.wait(0.5):
                    pass
            finally:
                restored = listener.restore()
                if restored is not None:
                    console.problem(restored.message)
                    if not restored.ok:
                        raise SentThenFailed("the webhook was left pointing here")
    return EXIT_OK


#: Addresses that listen on every interface, and the loopback address that reaches each.
_EVERY_INTERFACE = {"0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104 (names, not bindings)
