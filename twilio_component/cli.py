"""The ``twilio-component`` command: send, run, listen, campaign, validate, describe and more."""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO
from urllib.parse import urlsplit

from twilio_component.errors import (
    ActionError,
    ComponentError,
    ConnectionConfigError,
    DescriptorError,
    Problem,
    RefusedError,
    ServiceError,
    StepError,
    UnknownOutcomeError,
)
from twilio_component.twilio.errors import OutcomeUnknownError

if TYPE_CHECKING:
    from twilio_component.component import Component
    from twilio_component.host import Host
    from twilio_component.twilio.settings import Settings

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


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = _Parser(
        prog="twilio-component",
        description="Send and receive Twilio messages as workflow steps and triggers, on Twilio "
        "or an embedded sandbox.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from twilio_component import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    send = commands.add_parser(
        "send",
        help="send one message (sendSMS, or --action sendMessage) and print the output object",
        description="Send one message and print the output object as JSON.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    send.add_argument("--to", metavar="TO", help="recipient, E.164 (+15558675310) or whatsapp:+...")
    send.add_argument(
        "--from",
        dest="from_",
        metavar="FROM",
        help="sender: E.164, short code, alphanumeric ID or channel address",
    )
    send.add_argument("--body", metavar="BODY", help="the text, 1 to 1,600 characters")
    send.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any other parameter of the action by its descriptor name (repeat for a list)",
    )
    send.add_argument(
        "--action",
        default="sendSMS",
        metavar="ACTION",
        help="the action to run: a twilio/v1 action name (default sendSMS; sendMessage takes "
        "every Twilio option) or a full step type of any installed component (acme/v1/ping)",
    )
    send.add_argument(
        "--key",
        metavar="KEY",
        help="send at most once for this key (needs --journal): the same key again prints the "
        "recorded output and sends nothing",
    )
    network_options(send)

    run = commands.add_parser(
        "run",
        help="run a workflow file (tasks in order, ${input} and ${task.field} references)",
        description="Run a workflow file and print every task's output and the workflow outputs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("workflow", metavar="WORKFLOW.json")
    run.add_argument(
        "--input", action="append", default=[], metavar="NAME=VALUE", help="a workflow input"
    )
    run.add_argument(
        "--run-id",
        metavar="ID",
        help="name this run (needs --journal): running it again with the same ID resumes it, "
        "each task sent at most once, recorded outputs reused",
    )
    network_options(run)

    _add_listen(commands)
    _add_campaign(commands)

    validate = commands.add_parser(
        "validate",
        help="check a step or workflow file; sends nothing",
        description="Check every parameter of a step or of every task of a workflow file, "
        "report each problem by name, and send nothing. Exit 0 when valid, 2 when not.",
    )
    validate.add_argument("file", metavar="FILE.json", help="a step or a workflow, as JSON")

    describe = commands.add_parser(
        "describe",
        help="print the palette entry, the JSON Schemas or the reference page",
        description="Print what editors and docs see, generated from component.yaml.",
    )
    describe.add_argument(
        "--format",
        choices=("palette", "jsonschema", "markdown"),
        default="palette",
        help="palette: the editor's palette entry (JSON, the default); jsonschema: the "
        "connection, parameter and output schemas (JSON Schema 2020-12); markdown: the "
        "reference page",
    )
    describe.add_argument(
        "--component",
        metavar="NAME",
        help="the component to describe, by name (twilio) or type (twilio/v1); default: every "
        "installed component (one document, or a list when several are installed)",
    )

    estimate = commands.add_parser(
        "estimate",
        help="count the SMS segments of a body (GSM-7 or UCS-2)",
        description="Print, as JSON, the encoding Twilio would use for a body, its segments, "
        "the characters that force UCS-2 and what Smart Encoding would change. Sends nothing "
        "and needs no credentials.",
    )
    estimate.add_argument("--body", required=True, metavar="TEXT", help="the message text")
    estimate.add_argument(
        "--smart-encoding",
        action="store_true",
        help="count as Twilio would with Smart Encoding (look-alikes replaced)",
    )

    _add_sandbox(commands)
    from twilio_component import cli_distributed

    cli_distributed.add_worker(commands)
    return parser


def network_options(sub: argparse.ArgumentParser) -> None:
    """The options of every command that sends: sandbox, timeout, reconcile, journal."""
    sub.add_argument(
        "--sandbox",
        action="store_true",
        help="send to an embedded Twilio sandbox on loopback (no credentials needed; "
        "nothing reaches a real phone)",
    )
    sub.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="S",
        help="seconds to wait for Twilio's answer (default 30; connect at most 5)",
    )
    sub.add_argument(
        "--reconcile",
        action="store_true",
        help="when the outcome is unknown, look the message up in Twilio's log "
        "and return it if found (never re-sends)",
    )
    sub.add_argument(
        "--journal",
        metavar="PATH",
        help="an SQLite file recording each keyed step and event, so a rerun after a crash "
        "sends nothing twice (created when missing)",
    )
    sub.add_argument(
        "--connection",
        action="append",
        default=[],
        metavar="COMPONENT=FILE.json",
        help="the connection of a component, by name or type, as a JSON object in a file "
        "(repeat per component); Twilio's comes from TWILIO_* unless given here",
    )


def _add_listen(commands: Any) -> None:
    """The listen command: serve a workflow's trigger."""
    listen = commands.add_parser(
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
    listen.add_argument(
        "workflow",
        metavar="WORKFLOW.json",
        help='a workflow with "trigger": {"type": "twilio/v1/newIncomingSMS", "parameters": '
        '{"PhoneNumber": "+1…"}} (or "twilio/v1/messageStatus", registered nowhere: give its '
        "webhook_url as sendMessage's StatusCallback) whose tasks may use ${trigger.field}",
    )
    listen.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)",
    )
    listen.add_argument(
        "--port", type=_port, default=0, help="port, 0 to 65535 (default 0: a free one)"
    )
    listen.add_argument(
        "--public-url",
        metavar="URL",
        help="the URL Twilio calls when it is not this process's own (a proxy or tunnel, e.g. "
        "https://abc.ngrok.app/sms); signatures are checked against it, and this process "
        "serves the same path",
    )
    listen.add_argument(
        "--no-register",
        action="store_true",
        help="do not change the number's SMS webhook (it is configured by hand)",
    )
    listen.add_argument(
        "--take-over",
        action="store_true",
        help="replace a webhook URL the number already has (it is put back on exit)",
    )
    listen.add_argument(
        "--trust-forwarded",
        action="store_true",
        help="build the signed URL from X-Forwarded-Proto/Host (only behind a proxy you run)",
    )
    network_options(listen)


def _add_campaign(commands: Any) -> None:
    """The campaign command and its send, status and report subcommands."""
    campaign = commands.add_parser(
        "campaign",
        help="send one step to every row of a CSV, each recipient once, resumable",
        description="Send one step to every row of a CSV file. Every row is checked before "
        "the first send; each recipient is sent to at most once per campaign; running the same "
        "command again resumes it. The journal records every row.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    campaigns = campaign.add_subparsers(
        dest="campaign_command", required=True, metavar="SUBCOMMAND", parser_class=_Parser
    )
    campaign_send = campaigns.add_parser(
        "send",
        help="send (or resume) a campaign",
        description="Send STEP.json to every row of RECIPIENTS.csv; ${row.COLUMN} in the "
        "step's parameters takes the row's value. Prints a JSON summary (campaign, total, "
        "sent, failed, unknown, pending); exit 0 when every row is sent or refused by Twilio, 4 "
        "when some outcomes stay unknown or rows are left for later (run it again to finish), "
        "2 on invalid rows.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    campaign_send.add_argument("recipients", metavar="RECIPIENTS.csv")
    campaign_send.add_argument(
        "--step",
        required=True,
        metavar="STEP.json",
        help='one step, e.g. {"type": '
        '"twilio/v1/sendSMS", "parameters": {"To": "${row.phone}", "From": "+1…", "Body": "…"}}',
    )
    campaign_send.add_argument(
        "--campaign", required=True, metavar="ID", help="the campaign's name; reuse it to resume"
    )
    campaign_send.add_argument(
        "--mps",
        type=_rate,
        metavar="N",
        help="segments per second per sender (default: Twilio's for the sender's type: 1 for "
        "a long code, 3 toll-free, 100 short code, 10 alphanumeric or WhatsApp)",
    )
    campaign_send.add_argument(
        "--concurrency",
        type=_concurrency,
        metavar="N",
        help=f"requests in flight at most (default {DEFAULT_CONCURRENCY}: enough for 100 "
        "messages per second when each answer takes 300 ms); with --broker, across every "
        "worker (default there: no cap beyond the workers' own slots)",
    )
    network_options(campaign_send)
    from twilio_component import cli_distributed

    cli_distributed.add_broker_options(campaign_send)
    cli_distributed.add_resume(campaigns)
    for name, what in (("status", "print a campaign's counts"), ("report", "print its CSV report")):
        sub = campaigns.add_parser(name, help=what, description=what[0].upper() + what[1:] + ".")
        sub.add_argument("campaign", metavar="ID")
        sub.add_argument(
            "--journal",
            metavar="PATH",
            default=DEFAULT_JOURNAL,
            help=f"the campaign's journal (default {DEFAULT_JOURNAL})",
        )


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0 to 65535)")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of segments per second"
        ) from None
    if not 0 < value <= 10_000:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 10000 segments a second")
    return value


def _concurrency(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError("must be 1 to 256")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 3600 seconds")
    return value


# -- helpers ----------------------------------------------------------------------------------


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


#: Where the CLI reads each connection property, by authorization.
_FROM_ENVIRONMENT = {
    "basic_auth": {"username": "TWILIO_ACCOUNT_SID", "password": "TWILIO_AUTH_TOKEN"},
    "api_key": {
        "accountSid": "TWILIO_ACCOUNT_SID",
        "apiKeySid": "TWILIO_API_KEY",
        "apiKeySecret": "TWILIO_API_SECRET",
    },
}
#: The environment variable each connection property comes from.
_ENVIRONMENT_NAMES = {k: v for names in _FROM_ENVIRONMENT.values() for k, v in names.items()}


def _read_connection(environ: Mapping[str, str], authorization: str) -> dict[str, str]:
    names = _FROM_ENVIRONMENT[authorization]
    return {prop: environ.get(variable, "") for prop, variable in names.items()}


def _connection_from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    basic = _read_connection(environ, "basic_auth")
    key = _read_connection(environ, "api_key")
    if basic["password"] and (key["apiKeySid"] or key["apiKeySecret"]):
        given = " and ".join(n for n in ("TWILIO_API_KEY", "TWILIO_API_SECRET") if environ.get(n))
        raise ConnectionConfigError(
            [
                Problem(
                    "TWILIO_AUTH_TOKEN",
                    f"is set together with {given}; unset one of the two ways to sign in "
                    "so it is clear which credentials are used",
                )
            ]
        )
    if not basic["password"] and key["apiKeySid"] and key["apiKeySecret"]:
        return {"authorization": "api_key", **key}
    problems = []
    if not basic["username"]:
        problems.append(Problem("TWILIO_ACCOUNT_SID", "is not set (or use --sandbox)"))
    if not basic["password"] and (key["apiKeySid"] or key["apiKeySecret"]):
        missing = "apiKeySecret" if key["apiKeySid"] else "apiKeySid"
        problems.append(
            Problem(
                _ENVIRONMENT_NAMES[missing],
                "is not set; an API key needs both TWILIO_API_KEY and its secret",
            )
        )
    elif not basic["password"]:
        problems.append(
            Problem(
                "TWILIO_AUTH_TOKEN",
                "is not set (or TWILIO_API_KEY and TWILIO_API_SECRET; or use --sandbox)",
            )
        )
    if problems:
        raise ConnectionConfigError(problems)
    return basic


@contextmanager
def _named_by_environment() -> Iterator[None]:
    """Connection problems name the environment variable the value came from."""
    try:
        yield
    except ConnectionConfigError as error:
        problems = [
            Problem(f"{_ENVIRONMENT_NAMES[p.path]} ({p.path})", p.reason)
            if p.path in _ENVIRONMENT_NAMES
            else p
            for p in error.problems
        ]
        raise ConnectionConfigError(problems, subject=error.subject) from None


class _Connections:
    """Each component's connection: Twilio's from the environment (or the sandbox), any
    component's from ``--connection NAME=FILE.json``; a missing one is an error when needed."""

    def __init__(self, host: Host, given: Mapping[str, Mapping[str, Any]]) -> None:
        self.host = host
        self.given = dict(given)
        self.unavailable: dict[str, ConnectionConfigError] = {}

    def for_component(self, component: Component) -> Mapping[str, Any]:
        descriptor = component.descriptor
        for name in (descriptor.name, descriptor.type):
            if name in self.given:
                return self.given[name]
            if name in self.unavailable:
                raise self.unavailable[name]
        raise UsageError(
            f"{descriptor.type} needs a connection: give --connection "
            f"{descriptor.name}=FILE.json (a JSON object with its connection properties)"
        )

    def for_workflow(self, document: Any) -> dict[str, Mapping[str, Any]]:
        """The connection of every component the workflow's tasks use, keyed by name."""
        tasks = document.get("tasks") if isinstance(document, dict) else None
        used: dict[str, Component] = {}
        for task in tasks if isinstance(tasks, list) else []:
            step_type = task.get("type") if isinstance(task, dict) else None
            if isinstance(step_type, str) and step_type in self.host.step_types:
                component = self.host.component_of(step_type)
                used[component.descriptor.name] = component
        return {name: self.for_component(c) for name, c in used.items()}


def _connection_files(items: Sequence[str]) -> dict[str, Mapping[str, Any]]:
    given: dict[str, Mapping[str, Any]] = {}
    for name, path in _pairs(items, "--connection"):
        if name in given:
            raise UsageError(f"--connection {name}: given twice; give each component's once")
        document = _read_json(path)
        if not isinstance(document, dict):
            raise UsageError(f"--connection {name}: {path} must hold a JSON object")
        given[name] = document
    return given


def _known_component(host: Host, name: str, flag: str) -> Component:
    from twilio_component.describe import find_component

    try:
        return find_component(host, name)
    except KeyError as error:
        raise UsageError(f"{flag} {name}: {error.args[0]}") from None


def _hide_secrets(
    host: Host, connections: Mapping[str, Mapping[str, Any]], console: Console
) -> None:
    secret = {
        prop.name
        for component in host.components
        for authorization in component.descriptor.authorizations
        for prop in authorization.properties
        if prop.secret
    }
    for connection in connections.values():
        console.secrets.extend(str(v) for k, v in connection.items() if k in secret)


@contextmanager
def _target(
    args: argparse.Namespace, console: Console, environ: Mapping[str, str]
) -> Iterator[tuple[Host, _Connections]]:
    """The host and the connections to use: the embedded sandbox, or Twilio from the
    environment, and any component's from ``--connection``."""
    from twilio_component.describe import OWN_COMPONENT
    from twilio_component.host import Host
    from twilio_component.twilio.settings import Settings

    given = _connection_files(args.connection)
    injected: Settings | None = getattr(args, "settings", None)
    if injected is None:
        settings = Settings(environ=environ, reconcile=args.reconcile)
    else:
        settings = replace(
            injected,
            environ=environ if injected.environ is None else injected.environ,
            reconcile=args.reconcile or injected.reconcile,
        )
    if args.timeout is not None:
        settings = replace(
            settings, read_timeout=args.timeout, connect_timeout=min(5.0, args.timeout)
        )
    if args.journal is not None:
        settings = replace(settings, journal=args.journal)
    if not args.sandbox:
        with _named_by_environment(), Host.load(settings) as host:
            for name in given:
                _known_component(host, name, "--connection")
            connections = _Connections(host, given)
            own = _known_component(host, OWN_COMPONENT, "--connection").descriptor.name
            if not any(n in given for n in (own, f"{own}/v1")):
                try:
                    connections.given[own] = _connection_from_environment(environ)
                except ConnectionConfigError as error:
                    connections.unavailable[own] = error
            _hide_secrets(host, connections.given, console)
            yield host, connections
        return
    from twilio_component.sandbox import Sandbox

    with Sandbox() as sandbox:
        args.sandbox_details = {
            "base_url": sandbox.base_url,
            "account_sid": sandbox.account_sid,
            "auth_token": sandbox.auth_token,
            "console_url": sandbox.console_url,
        }
        console.secrets.append(sandbox.auth_token)
        console.problem(
            f"sandbox: using the embedded Twilio sandbox at {sandbox.base_url}; "
            "nothing reached a real phone."
        )
        with Host.load(replace(settings, base_url=sandbox.base_url)) as host:
            for name in given:
                _known_component(host, name, "--connection")
            connections = _Connections(host, given)
            connections.given[OWN_COMPONENT] = dict(sandbox.connection)
            _hide_secrets(host, connections.given, console)
            yield host, connections


def _parameter_value(host: Host, action_type: str, name: str, text: str) -> Any:
    for component in host.components:
        for action in component.descriptor.actions:
            if f"{component.descriptor.type}/{action.name}" != action_type:
                continue
            for prop in action.properties:
                if prop.name == name:
                    return _convert(prop.type, text)
    return text


def _convert(kind: str, text: str) -> Any:
    """``--param`` text as the parameter's type; text that is not stays text for the checks."""
    from twilio_component.workflow import typed_input

    if kind == "ARRAY":
        return text  # one item; the flag repeats for a list
    value, _ = typed_input({"type": kind}, text)
    return value


def _pairs(items: Sequence[str], flag: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"{flag} {item!r}: expected NAME=VALUE")
        pairs.append((name.strip(), value))
    return pairs


def _read_json(path: str) -> Any:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{path}: not UTF-8 text (byte {exc.start} cannot be decoded); save it as UTF-8"
        ) from None
    try:
        document = json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except _DuplicateKey as exc:
        raise UsageError(
            f"{path}: the key {exc.key!r} is given twice in one object; keep one"
        ) from None
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise _too_deep(path) from None
    if _depth(document) > _MAX_DEPTH:
        raise _too_deep(path)
    return document


def _too_deep(path: str) -> UsageError:
    return UsageError(
        f"{path}: nested more than {_MAX_DEPTH} levels deep; no step or workflow is that deep"
    )


#: How deep a step or workflow file may nest (objects and lists); real ones stay under ten.
_MAX_DEPTH = 64


def _depth(document: Any) -> int:
    """How many objects and lists deep ``document`` nests, counted without recursion."""
    deepest, level = 0, [(document, 1)]
    while level:
        value, depth = level.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            children = value.values() if isinstance(value, dict) else value
            if depth <= _MAX_DEPTH:
                level.extend((child, depth + 1) for child in children)
    return deepest


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different (``json`` would keep the last silently)."""
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _DuplicateKey(key)
        document[key] = value
    return document


# -- commands ---------------------------------------------------------------------------------


def _send(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    step_type = args.action if "/" in args.action else f"twilio/v1/{args.action}"
    with _target(args, console, environ) as (host, connections):
        parameters: dict[str, Any] = {}
        if args.to is not None:
            parameters["To"] = args.to
        if args.from_ is not None:
            parameters["From"] = args.from_
        if args.body is not None:
            parameters["Body"] = args.body
        flagged = {"To": "--to", "From": "--from", "Body": "--body"}
        for name, text in _pairs(args.param, "--param"):
            value = _parameter_value(host, step_type, name, text)
            if name in parameters and _is_list(host, step_type, name):
                parameters[name].append(value)
            elif _is_list(host, step_type, name):
                parameters[name] = [value]
            elif name in parameters:
                given = flagged.get(name, f"--param {name}=…")
                raise UsageError(
                    f"--param {name}: {name} is already given by {given}; give it once"
                )
            else:
                parameters[name] = value
        step = {"type": step_type, "parameters": parameters}
        if step_type in host.step_types:
            connection = connections.for_component(host.component_of(step_type))
        else:
            connection = {}  # the host names the unknown step type and what it can run
        if args.key is not None and args.journal is None:
            raise UsageError("--key needs --journal PATH (where the key's outcome is recorded)")
        output = _interruptible(
            lambda: host.execute(step, connection=connection, key=args.key), parameters
        )
    _write_sent(console, output)
    return EXIT_OK


def _interruptible(send: Callable[[], Any], parameters: Mapping[str, Any]) -> Any:
    """``send()``; an interrupt while it runs is reported as an unknown outcome (exit 4)."""
    started = datetime.now(UTC)
    try:
        return send()
    except KeyboardInterrupt:
        raise OutcomeUnknownError(
            "interrupted while the request may have been on its way",
            to=parameters.get("To"),
            from_=parameters.get("From") or parameters.get("MessagingServiceSid"),
            attempted_at=started,
        ) from None


def _write_sent(console: Console, output: Mapping[str, Any]) -> None:
    """Print the output of something sent; failing to print it does not unsend it."""
    try:
        console.result(output)
        console.out.flush()
    except (OSError, ValueError) as error:
        raise SentThenFailed(
            f"the message was sent (SID {output.get('sid')}), but its output could not be "
            f"written ({type(error).__name__}: {error}); do not send it again"
        ) from None


def _is_list(host: Host, step_type: str, name: str) -> bool:
    for component in host.components:
        for action in component.descriptor.actions:
            if f"{component.descriptor.type}/{action.name}" == step_type:
                return any(p.name == name and p.type == "ARRAY" for p in action.properties)
    return False


def _run(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    from twilio_component.workflow import WorkflowFailed, is_workflow

    document = _read_json(args.workflow)
    inputs: dict[str, str] = {}
    for name, value in _pairs(args.input, "--input"):
        if name in inputs:
            raise UsageError(f"--input {name}: given twice; give each input once")
        inputs[name] = value
    if (args.run_id is None) != (args.journal is None):
        raise UsageError(
            "--run-id and --journal go together: the journal records the run's tasks "
            "under its ID, so that running it again resumes it"
        )
    with _target(args, console, environ) as (host, connections):
        if not is_workflow(document):
            document = (
                {"tasks": [{"name": document.get("name", "step"), **document}]}
                if isinstance(document, dict)
                else document
            )
        by_component = connections.for_workflow(document)
        try:
            run = host.run(document, connections=by_component, inputs=inputs, run_id=args.run_id)
        except WorkflowFailed as failure:
            with contextlib.suppress(OSError, ValueError):
                console.result(failure.run.as_json())
            if not failure.run.tasks:
                console.problem(f"task {failure.task!r} failed; no task had run before it.")
                raise failure.error from None
            raise
    try:
        console.result(run.as_json())
        console.out.flush()
    except (OSError, ValueError) as error:
        raise SentThenFailed(
            f"every task ran, but the output could not be written ({type(error).__name__}); "
            "do not run the workflow again"
        ) from None
    return EXIT_OK


def _listen(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    from twilio_component.errors import TriggerConflictError
    from twilio_component.triggers.listener import (
        Listener,
        origin,
        serve,
        stop_signals,
        webhook_path,
    )

    document = _read_json(args.workflow)
    if args.public_url is not None:
        parts = urlsplit(args.public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(
                f"--public-url {args.public_url!r}: expected the full URL Twilio calls, "
                "e.g. https://abc.ngrok.app/sms"
            )
    with _target(args, console, environ) as (host, connections):
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
                    listener.enable(webhook_url, take_over=args.take_over)
                except TriggerConflictError as conflict:
                    raise UsageError(str(conflict)) from None
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


#: Seconds after its slot a campaign's thread may still send; later, it books a new slot.
LATE_WAKE = 0.1
#: Requests a campaign keeps in flight unless told (--concurrency).
DEFAULT_CONCURRENCY = 32
#: Where campaigns are journaled when --journal is not given.
DEFAULT_JOURNAL = "twilio-component-journal.db"


def _campaign(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    from twilio_component.journal import open_journal
    from twilio_component.twilio import campaign

    if args.campaign_command == "status":
        _journal_exists(args.journal)
        counts = campaign.status(open_journal(args.journal), args.campaign)
        if counts is None:
            raise UsageError(f"{args.journal} has no campaign {args.campaign!r}")
        console.result(counts)
        return EXIT_OK
    if args.campaign_command == "report":
        _journal_exists(args.journal)
        try:
            campaign.report(open_journal(args.journal), args.campaign, console.out)
            console.out.flush()
        except BrokenPipeError:  # the reader stopped early (| head): nothing is lost
            _quiet_stdout(console)
        return EXIT_OK
    if args.campaign_command == "resume":
        from twilio_component.cli_distributed import resume_campaign

        return resume_campaign(args, console)
    return _campaign_send(args, console, environ)


def _quiet_stdout(console: Console) -> None:
    """Point stdout at /dev/null after its reader went away, so exiting flushes nowhere."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, console.out.fileno())


def _sender(parameters: Mapping[str, Any]) -> str:
    """Who a step sends from, as pacing counts it: its From, else its Messaging Service."""
    return str(parameters.get("From") or parameters.get("MessagingServiceSid") or "")


def _journal_exists(path: str) -> None:
    if path.startswith(("postgresql://", "postgres://")):
        return  # a server: opening it says whether it can be reached
    if not Path(path).is_file():
        raise UsageError(f"--journal {path}: no such journal (campaign send creates it)")


def _check_broker_flags(args: argparse.Namespace) -> None:
    if args.journal is None and args.broker:
        raise UsageError(
            "--broker needs --journal, the one the workers use (postgresql://…): it is what "
            "decides whether a row may be sent"
        )
    if args.wait and not args.broker:
        raise UsageError("--wait follows a campaign sent with --broker; give --broker too")


def _campaign_input(args: argparse.Namespace) -> tuple[list[str], list[Any], dict[str, Any]]:
    """The CSV's columns and rows and the step of campaign send; UsageError when unusable."""
    from twilio_component.twilio import campaign

    try:
        text = Path(args.recipients).read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise UsageError(f"{args.recipients}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{args.recipients}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    try:
        columns, rows = campaign.read_rows(text, args.recipients)
    except (ValueError, csv.Error) as error:
        raise UsageError(str(error)) from None
    step = _read_json(args.step)
    if not isinstance(step, dict) or "type" not in step:
        raise UsageError(f"{args.step}: must be one step, an object with 'type' and 'parameters'")
    return columns, rows, step


def _campaign_send(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    from twilio_component.pacing import Pacer
    from twilio_component.twilio import campaign
    from twilio_component.twilio.errors import QUEUE_FULL
    from twilio_component.twilio.segments import estimate

    columns, rows, step = _campaign_input(args)
    _check_broker_flags(args)
    if args.journal is None:
        args.journal = DEFAULT_JOURNAL
    if args.concurrency is None and not args.broker:
        args.concurrency = DEFAULT_CONCURRENCY
    with _target(args, console, environ) as (host, connections):
        run = campaign.Campaign(host, args.campaign, step, rows, columns)
        steps, duplicates, problems = run.prepare()
        if problems:
            for problem in problems:
                console.problem(_one_line(problem))
            console.problem(f"nothing was sent ({len(problems)} problem(s)).")
            return EXIT_INVALID
        if args.broker:
            from twilio_component.cli_distributed import enqueue_campaign

            return enqueue_campaign(
                args, console, host=host, run=run, steps=steps, duplicates=duplicates
            )
        connection = connections.for_component(host.component_of(step["type"]))
        pacer = Pacer(args.mps, max_concurrent=args.concurrency)

        def pace(parameters: Mapping[str, Any]) -> None:
            sender = _sender(parameters)
            body = parameters.get("Body")
            segments = estimate(body)["segments"] if isinstance(body, str) and body else 1
            media = bool(parameters.get("MediaUrl"))
            while True:
                delay = pacer.reserve(sender, max(1, int(segments)), has_media=media)
                due = time.monotonic() + delay
                if delay > 0:
                    run.stopping.wait(delay)  # its turn, or an interrupt, whichever comes first
                # A thread that woke well after its slot (a busy machine) books another
                # rather than send in a bunch with the threads behind it.
                if run.stopping.is_set() or time.monotonic() <= due + LATE_WAKE:
                    return

        def later(parameters: Mapping[str, Any], refused: RefusedError) -> None:
            sender = _sender(parameters)
            if getattr(refused, "code", None) == QUEUE_FULL:
                pacer.pause(sender)
            else:
                pacer.slow_down(sender)

        summary = run.send(
            steps,
            connection,
            pace=pace,
            later=later,
            concurrency=args.concurrency,
            progress=campaign.plain_progress(console.err, len(steps)),
            duplicates=duplicates,
        )
    console.result(summary.as_json())
    if summary.interrupted:
        done = summary.sent + summary.failed + summary.unknown - summary.already
        console.problem(
            f"campaign {args.campaign}: interrupted; run the same command again to send the "
            "rest (nothing is sent twice)."
        )
        return EXIT_UNKNOWN if done else 130
    left = summary.unknown + summary.pending + summary.elsewhere
    if left:
        console.problem(
            f"campaign {args.campaign}: {summary.pending} row(s) refused for now (429, 21611) "
            f"and {summary.unknown} of unknown outcome"
            + (f", {summary.elsewhere} being sent by another process" if summary.elsewhere else "")
            + "; run the same command again to finish (nothing is sent twice)."
        )
    return EXIT_UNKNOWN if left else EXIT_OK


def _validate(args: argparse.Namespace, console: Console) -> int:
    from twilio_component.host import Host
    from twilio_component.workflow import check_workflow, is_workflow

    document = _read_json(args.file)
    host = Host.load()
    if is_workflow(document):
        problems = check_workflow(document, host, trigger="allowed")
    else:
        problems = host.check_step(document)
    for problem in problems:
        console.problem(str(problem))
    if problems:
        return EXIT_INVALID
    console.problem(f"{args.file}: valid")
    return EXIT_OK


def _describe(args: argparse.Namespace, console: Console) -> int:
    from twilio_component import describe
    from twilio_component.host import Host

    with Host.load() as host:
        try:
            document = describe.render(args.format, host, component=args.component)
        except KeyError as error:
            raise UsageError(f"--component {args.component!r}: {error.args[0]}") from None
    if isinstance(document, str):
        console.out.write(document)
    else:
        console.result(document)
    return EXIT_OK


def _estimate(args: argparse.Namespace, console: Console) -> int:
    from twilio_component.twilio.segments import estimate

    console.result(estimate(args.body, smart_encoding=args.smart_encoding))
    return EXIT_OK


def _add_sandbox(commands: argparse._SubParsersAction[_Parser]) -> None:
    """The sandbox command and its options."""
    sandbox = commands.add_parser(
        "sandbox",
        help="serve the Twilio sandbox until interrupted",
        description="Serve a Twilio-compatible sandbox. Prints one JSON line with base_url, "
        "account_sid, auth_token and console_url (a web page showing the sandbox's "
        "conversations live; its address holds an access token), then serves until "
        "interrupted.",
    )
    sandbox.add_argument(
        "--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)"
    )
    sandbox.add_argument(
        "--port", type=_port, default=0, help="port, 0 to 65535 (default 0: a free one)"
    )
    sandbox.add_argument(
        "--account-sid", metavar="AC…", help="the Account SID to accept (default: random)"
    )
    sandbox.add_argument(
        "--auth-token", metavar="TOKEN", help="the Auth Token to accept (default: random)"
    )
    sandbox.add_argument(
        "--number",
        action="append",
        default=[],
        metavar="E164",
        help="another sender number of the sandbox (+15005550006 always is one)",
    )
    sandbox.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="SK…:SECRET",
        help="an API key the sandbox also accepts, with its secret (repeatable)",
    )
    sandbox.add_argument(
        "--latency",
        type=_milliseconds,
        default=0,
        metavar="MS",
        help="milliseconds to wait before answering each API request (default 0)",
    )
    sandbox.add_argument(
        "--max-concurrent",
        type=_at_least_one,
        metavar="N",
        help="answer a create 429 (code 20429) while more than N API requests are in flight, "
        "as Twilio does past an account's limit (default: no limit)",
    )


def _milliseconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number of milliseconds"
        ) from None
    if not 0 <= value <= 3_600_000:
        raise argparse.ArgumentTypeError(f"{value} is not a latency (0 to 3600000 milliseconds)")
    return value


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


def _sandbox(args: argparse.Namespace, console: Console) -> int:
    from twilio_component.sandbox import Sandbox
    from twilio_component.twilio.endpoint import is_loopback

    if not is_loopback(args.host):
        raise UsageError(
            f"--host {args.host!r}: the sandbox only listens on loopback (127.0.0.1, ::1)"
        )
    sandbox = Sandbox(
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
            sandbox.add_api_key(sid, secret)
        except ValueError:
            # The argument holds a secret: say what is expected, never echo what was given.
            raise UsageError(
                "--api-key: expected SK followed by 32 hexadecimal digits, a colon, then the "
                "key's secret (SK…:SECRET)"
            ) from None
    sandbox.start()
    console.out.write(
        json.dumps(
            {
                "base_url": sandbox.base_url,
                "account_sid": sandbox.account_sid,
                "auth_token": sandbox.auth_token,
                "console_url": sandbox.console_url,
            }
        )
        + "\n"
    )
    console.out.flush()
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return EXIT_OK


class SentThenFailed(Exception):
    """Something was sent, then a later part of the command failed (exit 5)."""


def exit_code(error: BaseException) -> int:
    """The documented exit code for an error."""
    from twilio_component.workflow import WorkflowFailed

    if isinstance(error, SentThenFailed):
        return EXIT_SENT_THEN_FAILED
    if isinstance(error, WorkflowFailed):
        return EXIT_SENT_THEN_FAILED if error.run.tasks else exit_code(error.error)
    if isinstance(error, UnknownOutcomeError | ActionError):
        return EXIT_UNKNOWN
    if isinstance(error, RefusedError):
        return EXIT_REFUSED
    if isinstance(error, (StepError, ConnectionConfigError, UsageError)):
        return EXIT_INVALID
    return EXIT_OTHER


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
    args = build_parser().parse_args(argv)
    args.settings = settings
    try:
        if args.command == "send":
            return _send(args, console, env)
        if args.command == "run":
            return _run(args, console, env)
        if args.command == "campaign":
            return _campaign(args, console, env)
        if args.command == "listen":
            return _listen(args, console, env)
        if args.command == "validate":
            return _validate(args, console)
        if args.command == "describe":
            return _describe(args, console)
        if args.command == "estimate":
            return _estimate(args, console)
        if args.command == "worker":
            from twilio_component.cli_distributed import run_worker

            return run_worker(args, console, env)
        return _sandbox(args, console)
    except (ComponentError, UsageError, SentThenFailed) as error:
        _report(error, console)
        return exit_code(error)
    except KeyboardInterrupt:
        console.problem("interrupted before anything was sent.")
        return 130
    except Exception as error:  # a bug: say what, never a traceback that could carry secrets
        console.problem(f"error: unexpected {type(error).__name__}: {error}")
        return EXIT_OTHER


def _report(error: BaseException, console: Console) -> None:
    from twilio_component.workflow import WorkflowFailed

    if isinstance(error, WorkflowFailed) and error.run.tasks:
        for task, sid in error.completed.items():
            console.problem(f"task {task!r} ran" + (f" and sent {sid}" if sid else ""))
        inner = error.error
        problems = getattr(inner, "problems", None)
        if problems:
            listed = "; ".join(_one_line(str(p)) for p in problems)
            reason = f"it was not run ({listed})"
        else:
            reason = " ".join(_one_line(line) for line in str(inner).splitlines())
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
    elif isinstance(error, DescriptorError | ServiceError | StepError):
        label = "error"
    lines = [_one_line(line) for line in str(error).splitlines()] or [type(error).__name__]
    for index, line in enumerate(lines):
        console.problem(f"{label}: {line}" if index == 0 else line)


def _one_line(text: str) -> str:
    """``text`` with control characters (ANSI escapes, CR, BEL…) escaped, so it stays one line."""
    return "".join(c if c.isprintable() or c == "\t" else repr(c)[1:-1] for c in text)
