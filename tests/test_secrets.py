"""The Auth Token never shows: not in output, errors, tracebacks, logs or any object's repr.

A canary token is pushed through every error path, from Python and from the command line; it
must not appear as itself nor inside the Basic Authorization value (base64 of SID:token).
"""

from __future__ import annotations

import base64
import io
import logging
import socket
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import FROM, TO, no_sleep, sms_step

from twilio_component.cli import main
from twilio_component.errors import ComponentError
from twilio_component.host import Host
from twilio_component.sandbox import Sandbox
from twilio_component.settings import RetryPolicy
from twilio_component.twilio.client import Credentials, TwilioClient
from twilio_component.twilio.errors import TwilioError
from twilio_component.twilio.settings import Settings

CANARY = "canary-5f2b9c1e7d3a48e6b0c4d2f1a9e8b7c6"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A sandbox whose Auth Token is the canary."""
    with Sandbox(auth_token=CANARY) as running:
        yield running


def forbidden(sandbox: Sandbox) -> list[str]:
    """The canary and the Authorization value that carries it."""
    basic = base64.b64encode(f"{sandbox.account_sid}:{CANARY}".encode()).decode()
    return [CANARY, basic]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Path:
    """How to make one error happen: settings, connection and step to use."""

    arm: Callable[[Sandbox], None] = lambda sandbox: None
    base_url: Callable[[Sandbox], str] = lambda sandbox: sandbox.base_url
    step: dict[str, Any] = field(default_factory=sms_step)
    password: str = CANARY
    username: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


PATHS: dict[str, Path] = {
    "429 until the retries run out": Path(arm=lambda s: s.faults.rate_limit(100)),
    "500 after creating": Path(arm=lambda s: s.faults.error_after_create()),
    "drop after creating": Path(arm=lambda s: s.faults.drop_after_create()),
    "drop after the request was written": Path(arm=lambda s: s.faults.drop_before_create()),
    "answer slower than the timeout": Path(
        arm=lambda s: s.faults.slow(seconds=2), settings={"read_timeout": 0.3}
    ),
    "502 HTML page": Path(arm=lambda s: s.faults.gateway_page()),
    "201 with an unreadable body": Path(arm=lambda s: s.faults.garbled_created()),
    "400 from Twilio": Path(step=sms_step(To="+15005550001")),
    "401 from Twilio": Path(password=CANARY + "-but-wrong"),
    "connection refused": Path(base_url=lambda s: f"http://127.0.0.1:{closed_port()}"),
    "plain http to another host": Path(base_url=lambda s: "http://api.example.com"),
    "failed TLS handshake": Path(base_url=lambda s: s.base_url.replace("http:", "https:")),
    "invalid parameters": Path(step=sms_step(To="12345", Body="")),
    "lone surrogate in the body": Path(step=sms_step(Body="\ud800")),
    "invalid Account SID": Path(username="AC../../evil"),
    "lookup that finds nothing": Path(
        arm=lambda s: s.faults.drop_before_create(),
        settings={"reconcile": True, "reconcile_delay": 0.0},
    ),
}


def raise_through(path: Path, sandbox: Sandbox) -> ComponentError:
    """Run the step of ``path`` with the canary as Auth Token; return the error it raised."""
    path.arm(sandbox)
    options: dict[str, Any] = {"retry": RetryPolicy(sleep=no_sleep), **path.settings}
    settings = Settings(base_url=path.base_url(sandbox), **options)
    connection = {"username": path.username or sandbox.account_sid, "password": path.password}
    with Host.load(settings) as host:
        try:
            host.execute(path.step, connection=connection)
        except ComponentError as error:
            return error
    raise AssertionError("the step did not fail")


def reachable_text(root: object, depth: int = 5) -> str:
    """The repr of ``root`` and of everything reachable from it through attributes, items,
    arguments and chained exceptions (not through tracebacks: frames are tested apart)."""
    seen: set[int] = set()
    texts: list[str] = []

    def visit(item: object, left: int) -> None:
        if left < 0 or id(item) in seen or item is None or isinstance(item, int | float):
            return
        seen.add(id(item))
        if isinstance(item, bytes):
            texts.append(item.decode("latin-1"))
            return
        texts.append(item if isinstance(item, str) else repr(item))
        if isinstance(item, str):
            return
        if isinstance(item, BaseException):
            for linked in (*item.args, item.__cause__, item.__context__):
                visit(linked, left - 1)
        if isinstance(item, Mapping):
            for key, value in item.items():
                visit(key, left - 1)
                visit(value, left - 1)
        elif isinstance(item, list | tuple | set | frozenset):
            for value in item:
                visit(value, left - 1)
        for name in getattr(item, "__dict__", {}) or [*getattr(type(item), "__slots__", ())]:
            visit(getattr(item, name, None), left - 1)

    visit(root, depth)
    return "\n".join(texts)


def everything_shown(error: BaseException) -> str:
    """The full traceback of an error (chained exceptions included), and everything reachable
    from it."""
    return "".join(traceback.format_exception(error)) + reachable_text(error)


@pytest.mark.parametrize("name", list(PATHS))
def test_the_token_never_shows_in_a_raised_error(name: str, sandbox: Sandbox) -> None:
    error = raise_through(PATHS[name], sandbox)
    shown = everything_shown(error)
    for secret in forbidden(sandbox):
        assert secret not in shown


@pytest.mark.parametrize("name", list(PATHS))
def test_twilio_errors_carry_no_chained_exception(name: str, sandbox: Sandbox) -> None:
    error = raise_through(PATHS[name], sandbox)
    if isinstance(error, TwilioError):
        assert error.__cause__ is None
        assert error.__context__ is None


def test_the_token_never_shows_in_debug_logs(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for path in PATHS.values():
        sandbox.reset()
        raise_through(path, sandbox)
    with Host.load(Settings(base_url=sandbox.base_url)) as host:
        host.execute(sms_step(), connection=sandbox.connection)
    logged = caplog.text + "\n".join(repr(r.args) for r in caplog.records)
    assert "Starting new HTTP connection" in logged  # urllib3's debug log was captured
    assert "retrying" in logged  # and ours
    for secret in forbidden(sandbox):
        assert secret not in logged


CLI_CASES: dict[str, tuple[Callable[[Sandbox], None], tuple[str, ...]]] = {
    "429 until the retries run out": (lambda s: s.faults.rate_limit(100, retry_after=0), ()),
    "500 after creating": (lambda s: s.faults.error_after_create(), ()),
    "drop after creating": (lambda s: s.faults.drop_after_create(), ()),
    "drop after the request was written": (lambda s: s.faults.drop_before_create(), ()),
    "answer slower than the timeout": (lambda s: s.faults.slow(seconds=2), ("--timeout", "0.3")),
    "502 HTML page": (lambda s: s.faults.gateway_page(), ()),
    "201 with an unreadable body": (lambda s: s.faults.garbled_created(), ()),
    "400 from Twilio": (lambda s: None, ("--param", "To=+15005550001")),
    "invalid parameters": (lambda s: None, ("--param", "To=12345")),
    "found by reconciliation": (lambda s: s.faults.drop_after_create(), ("--reconcile",)),
    "not found by reconciliation": (lambda s: s.faults.drop_before_create(), ("--reconcile",)),
    "success": (lambda s: None, ()),
}


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_the_token_never_shows_on_the_command_line(name: str, sandbox: Sandbox) -> None:
    arm, extra = CLI_CASES[name]
    arm(sandbox)
    env = {
        "TWILIO_ACCOUNT_SID": sandbox.account_sid,
        "TWILIO_AUTH_TOKEN": CANARY,
        "TWILIO_API_BASE_URL": sandbox.base_url,
    }
    out, err = io.StringIO(), io.StringIO()
    argv = ["send", "--to", TO, "--from", FROM, "--body", "canary", *extra]
    main(argv, environ=env, stdout=out, stderr=err)
    for secret in forbidden(sandbox):
        assert secret not in out.getvalue() + err.getvalue()


def test_the_token_never_shows_in_the_repr_of_the_objects_that_hold_it(
    sandbox: Sandbox,
) -> None:
    settings = Settings(base_url=sandbox.base_url, environ={"TWILIO_AUTH_TOKEN": CANARY})
    credentials = Credentials(sandbox.account_sid, sandbox.account_sid, CANARY)
    with Host.load(settings) as host:
        host.execute(sms_step(), connection=sandbox.connection)
        client = host.runtime.shared("twilio.client", lambda: TwilioClient(settings))
        objects = [settings, credentials, host, host.runtime, client]
        shown = "\n".join(f"{o!r}\n{o!s}" for o in objects)
    for secret in forbidden(sandbox):
        assert secret not in shown


def test_the_token_never_shows_in_a_traceback_with_local_variables(sandbox: Sandbox) -> None:
    sandbox.faults.drop_after_create()
    client = TwilioClient(Settings(base_url=sandbox.base_url))
    credentials = Credentials(sandbox.account_sid, sandbox.account_sid, CANARY)
    try:
        client.create_message(credentials, [("To", TO), ("From", FROM), ("Body", "x")])
    except TwilioError as error:
        shown = "".join(
            traceback.TracebackException.from_exception(error, capture_locals=True).format()
        )
    finally:
        client.close()
    assert "credentials = Credentials(" in shown  # the locals were captured
    for secret in forbidden(sandbox):
        assert secret not in shown


def test_a_server_echoing_the_authorization_header_is_masked(sandbox: Sandbox) -> None:
    credentials = Credentials(sandbox.account_sid, sandbox.account_sid, CANARY)
    basic = forbidden(sandbox)[1]
    echoed = f"Bad request from Basic {basic} with token {CANARY}"
    assert CANARY not in credentials.scrub(echoed)
    assert basic not in credentials.scrub(echoed)
