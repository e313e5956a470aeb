"""``send``: one step run, its output object printed."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from twilio_component.cli.arguments import network_options, pairs
from twilio_component.cli.console import (
    EPILOG,
    EXIT_OK,
    Console,
    SentThenFailed,
    UsageError,
)
from twilio_component.cli.target import target
from twilio_component.twilio.errors import OutcomeUnknownError

if TYPE_CHECKING:
    from twilio_component.cli.target import Connections
    from twilio_component.host import Host


def add(commands: Any) -> None:
    """The send command."""
    parser = commands.add_parser(
        "send",
        help="send one message (sendSMS, or --action sendMessage) and print the output object",
        description="Send one message and print the output object as JSON.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--to", metavar="TO", help="recipient, E.164 (+15558675310) or whatsapp:+..."
    )
    parser.add_argument(
        "--from",
        dest="from_",
        metavar="FROM",
        help="sender: E.164, short code, alphanumeric ID or channel address",
    )
    parser.add_argument("--body", metavar="BODY", help="the text, 1 to 1,600 characters")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any other parameter of the action by its descriptor name (repeat for a list)",
    )
    parser.add_argument(
        "--action",
        default="sendSMS",
        metavar="ACTION",
        help="the action to run: a twilio/v1 action name (default sendSMS; sendMessage takes "
        "every Twilio option) or a full step type of any installed component (acme/v1/ping)",
    )
    parser.add_argument(
        "--key",
        metavar="KEY",
        help="send at most once for this key (needs --journal): the same key again prints the "
        "recorded output and sends nothing",
    )
    network_options(parser)

    parser.set_defaults(handler=send)


def send(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    """send: run one step and print its output object."""
    step_type = args.action if "/" in args.action else f"twilio/v1/{args.action}"
    with target(args, console, environ) as (host, connections):
        flags = {"To": ("--to", args.to), "From": ("--from", args.from_)}
        flags["Body"] = ("--body", args.body)
        parameters = step_parameters(host, step_type, flags, args.param)
        output = execute(args, host, connections, step_type, parameters)
    write_sent(console, output)
    return EXIT_OK


def execute(
    args: argparse.Namespace,
    host: Host,
    connections: Connections,
    step_type: str,
    parameters: Mapping[str, Any],
) -> Any:
    """Run one step (at most once for ``--key`` with ``--journal``); its output object."""
    step = {"type": step_type, "parameters": dict(parameters)}
    if step_type in host.step_types:
        connection = connections.for_component(host.component_of(step_type))
    else:
        connection = {}  # the host names the unknown step type and what it can run
    if args.key is not None and args.journal is None:
        raise UsageError("--key needs --journal PATH (where the key's outcome is recorded)")
    return interruptible(
        lambda: host.execute(step, connection=connection, key=args.key), parameters
    )


def step_parameters(
    host: Host,
    step_type: str,
    flags: Mapping[str, tuple[str, Any]],
    params: Sequence[str],
) -> dict[str, Any]:
    """A step's parameters from its own flags (name → (flag, value or None)) and ``--param``
    NAME=VALUE pairs, each typed as the step type's parameter; a list parameter repeats."""
    parameters: dict[str, Any] = {
        name: value for name, (_flag, value) in flags.items() if value is not None
    }
    for name, text in pairs(params, "--param"):
        value = parameter_value(host, step_type, name, text)
        if name in parameters and is_list(host, step_type, name):
            parameters[name].append(value)
        elif is_list(host, step_type, name):
            parameters[name] = [value]
        elif name in parameters:
            given = flags[name][0] if name in flags else f"--param {name}=…"
            raise UsageError(f"--param {name}: {name} is already given by {given}; give it once")
        else:
            parameters[name] = value
    return parameters


def interruptible(send: Callable[[], Any], parameters: Mapping[str, Any]) -> Any:
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


def write_sent(console: Console, output: Mapping[str, Any], *, what: str = "message") -> None:
    """Print the output of something sent; failing to print it does not unsend it."""
    try:
        console.result(output)
        console.out.flush()
    except (OSError, ValueError) as error:
        raise SentThenFailed(
            f"the {what} was sent (SID {output.get('sid')}), but its output could not be "
            f"written ({type(error).__name__}: {error}); do not send it again"
        ) from None


def is_list(host: Host, step_type: str, name: str) -> bool:
    """Whether the step type's parameter ``name`` takes a list."""
    for component in host.components:
        for action in component.descriptor.actions:
            if f"{component.descriptor.type}/{action.name}" == step_type:
                return any(p.name == name and p.type == "ARRAY" for p in action.properties)
    return False


def parameter_value(host: Host, action_type: str, name: str, text: str) -> Any:
    """``--param`` text as the type of the step type's parameter ``name``."""
    for component in host.components:
        for action in component.descriptor.actions:
            if f"{component.descriptor.type}/{action.name}" != action_type:
                continue
            for prop in action.properties:
                if prop.name == name:
                    return convert(prop.type, text)
    return text


def convert(kind: str, text: str) -> Any:
    """``--param`` text as the parameter's type; text that is not stays text for the checks."""
    from twilio_component.workflow import typed_input

    if kind == "ARRAY":
        return text  # one item; the flag repeats for a list
    value, _ = typed_input({"type": kind}, text)
    return value
