"""Where a command sends: the host (on the embedded sandbox or not) and each component's
connection, from --connection files or the environment."""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from twilio_component.cli.arguments import pairs, read_json
from twilio_component.cli.console import Console, UsageError
from twilio_component.errors import ConnectionConfigError, Problem

if TYPE_CHECKING:
    from twilio_component.component import Component
    from twilio_component.host import Host

#: The component the embedded sandbox stands in for.
SANDBOXED = "twilio"


class Connections:
    """Each component's connection: from ``--connection NAME=FILE.json``, else from the
    environment (or the sandbox) for a component that reads it there; a missing one is an
    error when it is needed."""

    def __init__(self, host: Host, given: Mapping[str, Mapping[str, Any]]) -> None:
        for name in given:
            known_component(host, name, "--connection")
        self.host = host
        self.given = dict(given)
        self.unavailable: dict[str, ConnectionConfigError] = {}

    def read_environment(self, environ: Mapping[str, str]) -> None:
        """Each component not given ``--connection`` that reads its connection from the
        environment: read it now (a problem is kept, raised when that connection is needed)."""
        for component in self.host.components:
            descriptor = component.descriptor
            if component.environment is None or {descriptor.name, descriptor.type} & set(
                self.given
            ):
                continue
            try:
                self.given[descriptor.name] = component.environment.read(environ)
            except ConnectionConfigError as error:
                self.unavailable[descriptor.name] = error

    def for_component(self, component: Component) -> Mapping[str, Any]:
        """The connection of ``component``; why it has none when it has none."""
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


def connection_files(items: Sequence[str]) -> dict[str, Mapping[str, Any]]:
    """The ``--connection NAME=FILE.json`` files, each a JSON object, by component."""
    given: dict[str, Mapping[str, Any]] = {}
    for name, path in pairs(items, "--connection"):
        if name in given:
            raise UsageError(f"--connection {name}: given twice; give each component's once")
        document = read_json(path)
        if not isinstance(document, dict):
            raise UsageError(f"--connection {name}: {path} must hold a JSON object")
        given[name] = document
    return given


def known_component(host: Host, name: str, flag: str) -> Component:
    """The installed component ``name`` names; UsageError naming the flag when none."""
    from twilio_component.describe import find_component

    try:
        return find_component(host, name)
    except KeyError as error:
        raise UsageError(f"{flag} {name}: {error.args[0]}") from None


def hide_secrets(
    host: Host, connections: Mapping[str, Mapping[str, Any]], console: Console
) -> None:
    """Mask every secret property of ``connections`` in what the console prints."""
    secret = {name for c in host.components for name in c.descriptor.secret_properties}
    for connection in connections.values():
        console.secrets.extend(str(v) for k, v in connection.items() if k in secret)


@contextmanager
def target(
    args: argparse.Namespace, console: Console, environ: Mapping[str, str]
) -> Iterator[tuple[Host, Connections]]:
    """The host and the connections to use: the embedded sandbox, or each component's from
    ``--connection`` or, for a component that reads one there, from the environment."""
    from twilio_component.host import Host
    from twilio_component.twilio.settings import Settings

    given = connection_files(args.connection)
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
        with Host.load(settings) as host:
            connections = Connections(host, given)
            with named_by_environment(host):
                connections.read_environment(environ)
                hide_secrets(host, connections.given, console)
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
            connections = Connections(host, given)
            connections.given[SANDBOXED] = dict(sandbox.connection)
            hide_secrets(host, connections.given, console)
            yield host, connections


@contextmanager
def named_by_environment(host: Host) -> Iterator[None]:
    """Connection problems name the environment variable the value came from."""
    variables = {
        prop: variable
        for component in host.components
        if component.environment is not None
        for prop, variable in component.environment.variables.items()
    }
    try:
        yield
    except ConnectionConfigError as error:
        problems = [
            Problem(f"{variables[p.path]} ({p.path})", p.reason) if p.path in variables else p
            for p in error.problems
        ]
        raise ConnectionConfigError(problems, subject=error.subject) from None
