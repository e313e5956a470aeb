"""Hostile input: only our own errors leave, invalid input sends nothing, nothing leaves by
another road (an Account SID rewriting the URL, plain http off the machine, a redirect)."""

from __future__ import annotations

import copy
import io
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml
from conftest import FROM, TO, creates, no_sleep, sms_step
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twilio_component.cli import main
from twilio_component.descriptor import parse_descriptor
from twilio_component.errors import (
    ComponentError,
    ConnectionConfigError,
    DescriptorError,
    Problem,
    StepError,
)
from twilio_component.host import Host
from twilio_component.resources import read_text
from twilio_component.sandbox import Sandbox
from twilio_component.settings import RetryPolicy
from twilio_component.twilio.client import Credentials, TwilioClient
from twilio_component.twilio.errors import OutcomeUnknownError
from twilio_component.twilio.settings import Settings

HEX32 = "0123456789abcdef" * 2


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.fixture(scope="module")
def host(sandbox: Sandbox) -> Iterator[Host]:
    settings = Settings(
        base_url=sandbox.base_url, read_timeout=2, retry=RetryPolicy(sleep=no_sleep)
    )
    with Host.load(settings) as loaded:
        yield loaded


# -- step parameters and connections -------------------------------------------------------------

#: Text where about half the characters are lone surrogates (not encodable as UTF-8).
surrogate_text = st.lists(
    st.characters(categories=["Cs"]) | st.characters(), min_size=1, max_size=8
).map("".join)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    surrogate_text,
    st.sampled_from(["", " ", "+", "+0", TO, FROM, "+15005550001", "+15005550007", "x" * 1601]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
names = st.sampled_from(["To", "From", "Body", "MediaUrl", "type", ""]) | st.text(max_size=8)


def replaced(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` with one key set to a hostile value (or removed)."""
    return st.builds(
        lambda key, value, drop: (
            {k: v for k, v in base.items() if k != key} if drop else {**base, key: value}
        ),
        names,
        values,
        st.booleans(),
    )


def mostly(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``usual`` four times in five, else ``odd``."""
    return st.integers(0, 4).flatmap(lambda n: odd if n == 0 else usual)


VALID = {"To": TO, "From": FROM, "Body": "hostile"}
parameters = mostly(replaced(VALID), st.dictionaries(names, values, max_size=5) | values)
steps = mostly(
    st.builds(lambda p: {"type": "twilio/v1/sendSMS", "parameters": p}, parameters),
    st.builds(lambda t, p: {"type": t, "parameters": p}, values, parameters) | values,
)


def connections(sandbox: Sandbox) -> st.SearchStrategy[Any]:
    good = dict(sandbox.connection)
    return mostly(
        st.just(good) | replaced(good) | replaced({**good, "authorization": "basic_auth"}),
        st.dictionaries(names, values, max_size=3) | values,
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_only_our_errors_leave_execute_and_invalid_input_sends_nothing(
    data: st.DataObject, host: Host, sandbox: Sandbox
) -> None:
    step = data.draw(steps, label="step")
    connection = data.draw(connections(sandbox), label="connection")
    before = creates(sandbox)
    try:
        host.execute(step, connection=connection)
    except (StepError, ConnectionConfigError):  # ParameterError is a StepError
        assert creates(sandbox) == before
    except ComponentError:
        assert creates(sandbox) <= before + 1
    else:
        assert creates(sandbox) == before + 1


any_text = st.lists(st.characters(categories=["Cs"]) | st.characters(), max_size=20).map("".join)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["To", "From", "Body", "username", "password"]), text=any_text)
def test_any_text_in_a_parameter_or_the_connection_raises_only_our_errors(
    field: str, text: str, host: Host, sandbox: Sandbox
) -> None:
    values = {**VALID, **sandbox.connection, field: text}
    connection = {"username": values.pop("username"), "password": values.pop("password")}
    before = creates(sandbox)
    try:
        host.execute(sms_step(**values), connection=connection)
    except (StepError, ConnectionConfigError):
        assert creates(sandbox) == before
    except ComponentError:
        assert creates(sandbox) <= before + 1


# -- sendMessage and api_key -----------------------------------------------------------------------

SERVICE = "MG" + HEX32
KEY_SID, KEY_SECRET = "SK" + HEX32, "hostile-key-secret-0f3a9c"


def every_option() -> dict[str, Any]:
    """A valid sendMessage step's parameters using every option (SendAt is two days ahead)."""
    return {
        "To": TO,
        "From": FROM,
        "MessagingServiceSid": SERVICE,
        "Body": "hostile",
        "MediaUrl": ["https://example.com/a.png"],
        "ContentSid": "HX" + HEX32,
        "ContentVariables": {"1": "Jane"},
        "StatusCallback": "https://example.com/status",
        "ApplicationSid": "AP" + HEX32,
        "ValidityPeriod": 600,
        "SendAt": (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "SmartEncoded": True,
        "ShortenUrls": True,
        "SendAsMms": False,
        "PersistentAction": ["mailto:hello@example.com"],
        "ContentRetention": "retain",
        "AddressRetention": "retain",
        "RiskCheck": "enable",
        "ProvideFeedback": False,
        "Attempt": 1,
        "ForceDelivery": False,
        "TrafficType": "free",
        "FallbackFrom": FROM,
    }


#: Text shaped like what the checks parse: dates, URLs, JSON, channel addresses.
shaped_text = st.one_of(
    st.from_regex(
        r"\A[0-9]{1,5}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2})?"
        r"([Zz]|[+-][0-9]{2}:?[0-9]{2})?\Z"
    ),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00"]),
    st.builds(lambda t: "http://" + t, st.text(max_size=12)),
    st.sampled_from(["http://[x", "https://[::1", "https://a_b.example/", "[" * 5000, "1" * 5000]),
    st.builds(lambda t: "whatsapp:" + t, st.text(max_size=12)),
    st.builds(json.dumps, values),
)
option_names = st.sampled_from(sorted(every_option()))


@settings(max_examples=400, deadline=None)
@given(
    changes=st.dictionaries(option_names, values | shaped_text, min_size=1, max_size=3),
    dropped=st.lists(option_names, max_size=3),
)
def test_any_send_message_parameters_get_a_verdict_never_a_crash(
    changes: dict[str, Any], dropped: list[str], host: Host
) -> None:
    parameters = {k: v for k, v in {**every_option(), **changes}.items() if k not in dropped}
    problems = host.check_step({"type": "twilio/v1/sendMessage", "parameters": parameters})
    assert all(isinstance(p, Problem) and p.path and p.reason for p in problems)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_api_key_connections_raise_only_our_errors_and_never_show_the_secret(
    data: st.DataObject, host: Host, sandbox: Sandbox
) -> None:
    sandbox.add_api_key(KEY_SID, KEY_SECRET)
    good = {"accountSid": sandbox.account_sid, "apiKeySid": KEY_SID, "apiKeySecret": KEY_SECRET}
    connection = data.draw(mostly(replaced(good), st.dictionaries(names, values, max_size=3)))
    before = creates(sandbox)
    raised: ComponentError | None = None
    try:
        host.execute(sms_step(), connection=connection)
    except ComponentError as error:
        raised = error
    if isinstance(raised, StepError | ConnectionConfigError):
        assert creates(sandbox) == before
    assert KEY_SECRET not in f"{raised} {raised!r}"


# -- mutated descriptors ---------------------------------------------------------------------------

RAW: dict[str, Any] = yaml.safe_load(read_text("component.yaml"))


def node_paths(node: object, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, child in node.items():
            yield from node_paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from node_paths(child, (*prefix, index))


PATHS = [p for p in node_paths(RAW) if p]


def mutate(data: dict[str, Any], path: tuple[Any, ...], value: object, drop: bool) -> None:
    parent: Any = data
    for part in path[:-1]:
        parent = parent[part]
    if drop:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value


@settings(max_examples=120, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PATHS), values, st.booleans()), min_size=1, max_size=3))
def test_mutated_descriptors_are_refused_with_a_path(
    mutations: list[tuple[tuple[Any, ...], object, bool]],
) -> None:
    data = copy.deepcopy(RAW)
    for path, value, drop in mutations:
        try:
            mutate(data, path, copy.deepcopy(value), drop)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this path's parent
    try:
        parse_descriptor(data)
    except DescriptorError as error:
        problems = error.problems
    else:
        return  # still a valid descriptor
    assert problems
    assert all(problem.path.startswith("$") for problem in problems)


# -- the Account SID cannot rewrite the URL -------------------------------------------------------

INJECTIONS = [
    "AC../..",
    "AC%2F",
    "AC" + HEX32 + "/Messages",
    "AC" + HEX32 + "/../../AC" + HEX32,
    "AC" + HEX32 + "\n",
    "AC" + HEX32 + "?PageSize=1000",
    "AC" + HEX32 + "#",
    "AC" + HEX32[:-1] + "%2E",
    "AC" + "\u0660" * 32,  # Arabic-Indic digits: digits, but not hexadecimal ones
    " AC" + HEX32,
]


@pytest.mark.parametrize("account_sid", INJECTIONS)
def test_an_account_sid_that_would_change_the_url_is_refused_before_sending(
    account_sid: str, host: Host, sandbox: Sandbox
) -> None:
    before = len(sandbox.requests)
    with pytest.raises(ConnectionConfigError):
        host.execute(
            sms_step(), connection={"username": account_sid, "password": sandbox.auth_token}
        )
    client = TwilioClient(Settings(base_url=sandbox.base_url))
    with pytest.raises(ConnectionConfigError, match="Account SID"):
        client.create_message(
            Credentials(account_sid, sandbox.account_sid, sandbox.auth_token), [("To", TO)]
        )
    with pytest.raises(ConnectionConfigError, match="Account SID"):
        list(client.list_messages(Credentials(account_sid, account_sid, "x"), {"To": TO}))
    client.close()
    assert len(sandbox.requests) == before


# -- a pattern holds to the very end of the value -----------------------------------------------

TRAILING_NEWLINE = [
    ("sendSMS", "To", TO + "\n"),
    ("sendSMS", "From", FROM + "\n"),
    ("sendSMS", "From", "ACME\n"),
    ("sendMessage", "MessagingServiceSid", "MG" + HEX32 + "\n"),
    ("sendMessage", "ContentSid", "HX" + HEX32 + "\n"),
    ("sendMessage", "StatusCallback", "https://example.com/status\n"),
]


@pytest.mark.parametrize(("action", "name", "value"), TRAILING_NEWLINE)
def test_a_value_with_a_trailing_newline_does_not_match_its_pattern(
    action: str, name: str, value: str, host: Host
) -> None:
    step = sms_step(**{name: value})
    step["type"] = f"twilio/v1/{action}"
    problems = host.check_step(step)
    assert [p.path for p in problems] == [name]
    assert "does not match" in problems[0].reason or "is not" in problems[0].reason


# -- only https leaves the machine -------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record (and refuse) every attempt to resolve a name or open a connection."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> Any:
        attempts.append(args)
        raise OSError("the test forbids the network")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


@pytest.mark.parametrize(
    "base_url",
    [
        "http://api.twilio.com",
        "http://api.example.com:8080",
        "http://127.0.0.1.nip.io",
        "http://localhost.example.com",
        "http://10.0.0.1",
        "http://[::ffff:8.8.8.8]",
        "HTTP://api.twilio.com",
        "ftp://api.twilio.com",
        "https://user:secret@api.twilio.com",
    ],
)
def test_a_base_url_that_would_leave_the_machine_unencrypted_exits_2_before_sending(
    base_url: str, sandbox: Sandbox, no_network: list[object]
) -> None:
    env = {
        "TWILIO_ACCOUNT_SID": sandbox.account_sid,
        "TWILIO_AUTH_TOKEN": sandbox.auth_token,
        "TWILIO_API_BASE_URL": base_url,
    }
    out, err = io.StringIO(), io.StringIO()
    argv = ["send", "--to", TO, "--from", FROM, "--body", "x"]
    assert main(argv, environ=env, stdout=out, stderr=err) == 2
    assert "TWILIO_API_BASE_URL" in err.getvalue()
    assert no_network == []


def test_the_python_api_refuses_plain_http_off_the_machine_too(
    sandbox: Sandbox, no_network: list[object]
) -> None:
    with (
        Host.load(Settings(base_url="http://api.twilio.com")) as host,
        pytest.raises(ConnectionConfigError, match="only https may leave"),
    ):
        host.execute(sms_step(), connection=sandbox.connection)
    assert no_network == []


# -- redirects are never followed --------------------------------------------------------------


class Recorder(BaseHTTPRequestHandler):
    """Records each request; answers ``status`` with a Location to ``location``."""

    status = 200
    location = ""
    seen: list[str]

    def handle_one(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(self.status)
        if self.location:
            self.send_header("Location", self.location)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = handle_one

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def serve(status: int = 200, location: str = "") -> tuple[ThreadingHTTPServer, list[str]]:
    seen: list[str] = []
    handler = type("Handler", (Recorder,), {"status": status, "location": location, "seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, seen


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_the_outcome_is_unknown(
    status: int, sandbox: Sandbox
) -> None:
    target, reached = serve()
    port = target.server_address[1]
    redirector, asked = serve(
        status, f"http://127.0.0.1:{port}/2010-04-01/Accounts/x/Messages.json"
    )
    env = {
        "TWILIO_ACCOUNT_SID": sandbox.account_sid,
        "TWILIO_AUTH_TOKEN": sandbox.auth_token,
        "TWILIO_API_BASE_URL": f"http://127.0.0.1:{redirector.server_address[1]}",
    }
    out, err = io.StringIO(), io.StringIO()
    try:
        code = main(
            ["send", "--to", TO, "--from", FROM, "--body", "x"], environ=env, stdout=out, stderr=err
        )
    finally:
        target.shutdown()
        redirector.shutdown()
    assert code == 4
    assert "redirect, which is never followed" in err.getvalue()
    assert len(asked) == 1
    assert reached == []


def test_a_redirect_raises_outcome_unknown_from_python(sandbox: Sandbox) -> None:
    target, reached = serve()
    redirector, asked = serve(307, f"http://127.0.0.1:{target.server_address[1]}/")
    settings = Settings(base_url=f"http://127.0.0.1:{redirector.server_address[1]}")
    try:
        with Host.load(settings) as host, pytest.raises(OutcomeUnknownError) as raised:
            host.execute(sms_step(), connection=sandbox.connection)
    finally:
        target.shutdown()
        redirector.shutdown()
    assert raised.value.status == 307
    assert (len(asked), reached) == (1, [])
