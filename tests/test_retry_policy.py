"""The retry policy: only 429s and requests that never left; Retry-After or jittered backoff."""

from __future__ import annotations

import contextlib
import email.utils
import http.server
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from conftest import FROM, TO, Cli, creates, sms_step
from hypothesis import given
from hypothesis import strategies as st

from twilio_component.host import Host
from twilio_component.sandbox import Sandbox
from twilio_component.settings import RetryPolicy
from twilio_component.twilio.errors import (
    OutcomeUnknownError,
    RateLimitedError,
    RequestNotSentError,
)
from twilio_component.twilio.settings import Settings


class Sleeps(list[float]):
    """An injected sleep that records the delays instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def refused_port() -> int:
    """A loopback port that refuses connections right now: bound, released, then checked."""
    for _ in range(20):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        with socket.socket() as check:
            check.settimeout(5)
            try:
                check.connect(("127.0.0.1", port))
            except ConnectionRefusedError:
                return port
    raise RuntimeError("no refused loopback port found")


def host_for(sandbox: Sandbox, policy: RetryPolicy) -> Host:
    return Host.load(Settings(base_url=sandbox.base_url, read_timeout=2.0, retry=policy))


@pytest.fixture
def fixed_jitter_host(twilio_sandbox: Sandbox, sleeps: Sleeps) -> Iterator[Host]:
    """Backoff with the jitter pinned at its maximum (random() == 1.0)."""
    with host_for(twilio_sandbox, RetryPolicy(sleep=sleeps, random=lambda: 1.0)) as host:
        yield host


def test_retry_after_is_honoured(
    fixed_jitter_host: Host, twilio_sandbox: Sandbox, sleeps: Sleeps
) -> None:
    twilio_sandbox.faults.rate_limit(2, retry_after=3)
    fixed_jitter_host.execute(sms_step(), connection=twilio_sandbox.connection)
    assert sleeps == [3.0, 3.0]
    assert creates(twilio_sandbox) == 3
    assert len(twilio_sandbox.messages) == 1


def test_without_retry_after_the_backoff_doubles(
    fixed_jitter_host: Host, twilio_sandbox: Sandbox, sleeps: Sleeps
) -> None:
    twilio_sandbox.faults.rate_limit(3)
    fixed_jitter_host.execute(sms_step(), connection=twilio_sandbox.connection)
    assert sleeps == [0.5, 1.0, 2.0]


def test_backoff_is_full_jitter_of_the_capped_exponential() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0, random=lambda: 0.25)
    assert [policy.backoff(n) for n in range(5)] == [0.125, 0.25, 0.5, 0.75, 0.75]


@given(st.integers(min_value=0, max_value=60), st.floats(min_value=0, max_value=1))
def test_backoff_never_exceeds_max_delay(retry: int, draw: float) -> None:
    policy = RetryPolicy(random=lambda: draw)
    assert 0 <= policy.backoff(retry) <= policy.max_delay


def test_attempts_are_bounded_by_max_attempts(twilio_sandbox: Sandbox, sleeps: Sleeps) -> None:
    twilio_sandbox.faults.rate_limit(100)
    with (
        host_for(twilio_sandbox, RetryPolicy(max_attempts=6, sleep=sleeps)) as host,
        pytest.raises(RateLimitedError) as raised,
    ):
        host.execute(sms_step(), connection=twilio_sandbox.connection)
    assert raised.value.attempts == 6
    assert creates(twilio_sandbox) == 6
    assert len(sleeps) == 5


def test_total_wait_is_bounded(twilio_sandbox: Sandbox, sleeps: Sleeps) -> None:
    twilio_sandbox.faults.rate_limit(100, retry_after=4)
    policy = RetryPolicy(max_attempts=50, max_total_wait=10, sleep=sleeps)
    with host_for(twilio_sandbox, policy) as host, pytest.raises(RateLimitedError) as raised:
        host.execute(sms_step(), connection=twilio_sandbox.connection)
    assert sleeps == [4.0, 4.0]
    assert raised.value.waited == 8.0
    assert creates(twilio_sandbox) == 3


def test_a_retry_after_beyond_the_budget_gives_up_at_once(
    fixed_jitter_host: Host, twilio_sandbox: Sandbox, sleeps: Sleeps
) -> None:
    twilio_sandbox.faults.rate_limit(1, retry_after=3600)
    with pytest.raises(RateLimitedError, match="Try again later") as raised:
        fixed_jitter_host.execute(sms_step(), connection=twilio_sandbox.connection)
    assert raised.value.retry_after == 3600
    assert sleeps == []
    assert creates(twilio_sandbox) == 1


def test_max_attempts_1_disables_retries(twilio_sandbox: Sandbox, sleeps: Sleeps) -> None:
    twilio_sandbox.faults.rate_limit(1)
    with (
        host_for(twilio_sandbox, RetryPolicy(max_attempts=1, sleep=sleeps)) as host,
        pytest.raises(RateLimitedError),
    ):
        host.execute(sms_step(), connection=twilio_sandbox.connection)
    assert creates(twilio_sandbox) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    "fault",
    ["error_after_create", "drop_after_create", "drop_before_create", "garbled_created"],
)
def test_what_may_have_reached_twilio_is_never_retried(
    fault: str, fixed_jitter_host: Host, twilio_sandbox: Sandbox, sleeps: Sleeps
) -> None:
    getattr(twilio_sandbox.faults, fault)()
    with pytest.raises(OutcomeUnknownError):
        fixed_jitter_host.execute(sms_step(), connection=twilio_sandbox.connection)
    assert creates(twilio_sandbox) == 1
    assert sleeps == []


def test_a_refused_connection_is_retried_with_backoff(sleeps: Sleeps) -> None:
    port = refused_port()
    policy = RetryPolicy(sleep=sleeps, random=lambda: 1.0)
    with (
        Host.load(Settings(base_url=f"http://127.0.0.1:{port}", retry=policy)) as host,
        pytest.raises(RequestNotSentError, match="refused"),
    ):
        host.execute(sms_step(), connection={"username": "AC" + "0" * 32, "password": "x"})
    assert sleeps == [0.5, 1.0, 2.0]


def test_a_connection_that_is_refused_then_accepted_sends_once(sleeps: Sleeps) -> None:
    port = refused_port()
    sandbox = Sandbox(port=port)

    def start_sandbox_while_sleeping(seconds: float) -> None:
        sleeps.append(seconds)
        sandbox.start()

    policy = RetryPolicy(sleep=start_sandbox_while_sleeping)
    settings = Settings(base_url=f"http://127.0.0.1:{port}", retry=policy)
    try:
        with Host.load(settings) as host:
            output = host.execute(sms_step(), connection=sandbox.connection)
        assert len(sleeps) == 1
        assert [m["sid"] for m in sandbox.messages] == [output["sid"]]
    finally:
        sandbox.stop()


def test_a_real_retry_after_of_one_second_spaces_the_requests(
    cli: Cli, twilio_sandbox: Sandbox
) -> None:
    twilio_sandbox.faults.rate_limit(1, retry_after=1)
    result = cli("send", "--to", TO, "--from", FROM, "--body", "spaced")
    assert result.code == 0, result.err
    first, second = twilio_sandbox.requests
    gap = (second.received_at - first.received_at).total_seconds()
    assert 1.0 <= gap < 5.0


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: RetryPolicy(max_attempts=0), ValueError),
        (lambda: RetryPolicy(max_attempts=2.5), TypeError),  # type: ignore[arg-type]
        (lambda: RetryPolicy(max_total_wait=-1), ValueError),
        (lambda: RetryPolicy(base_delay=float("nan")), ValueError),
        (lambda: Settings(read_timeout=0), ValueError),
        (lambda: Settings(connect_timeout=float("inf")), ValueError),
        (lambda: Settings(read_timeout="30"), TypeError),  # type: ignore[arg-type]
    ],
)
def test_nonsense_budgets_are_refused_when_made(make: Callable[[], object], error: type) -> None:
    with pytest.raises(error):
        make()


# -- Retry-After as an HTTP date, from a scripted server on loopback --------------------------


class Scripted(http.server.ThreadingHTTPServer):
    """A loopback server that answers each request with the next (status, headers, body)."""

    def __init__(self, answers: list[tuple[int, dict[str, str], bytes]]) -> None:
        self.answers = answers
        self.requests = 0
        super().__init__(("127.0.0.1", 0), _ScriptedHandler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ScriptedHandler(http.server.BaseHTTPRequestHandler):
    server: Scripted
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.requests += 1
        status, headers, body = self.server.answers.pop(0)
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


MESSAGE = json.dumps({"sid": "SM" + "a" * 32, "status": "queued", "to": TO, "from": FROM}).encode()
RATE_LIMITED = json.dumps({"code": 20429, "message": "Too Many Requests", "status": 429}).encode()
CONNECTION = {"username": "AC" + "0" * 32, "password": "x"}


@contextlib.contextmanager
def scripted(answers: list[tuple[int, dict[str, str], bytes]]) -> Iterator[Scripted]:
    server = Scripted(answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def rate_limited_until(date: str) -> tuple[int, dict[str, str], bytes]:
    return 429, {"Retry-After": date}, RATE_LIMITED


def test_a_retry_after_http_date_waits_until_that_date(sleeps: Sleeps) -> None:
    in_30_s = email.utils.formatdate(time.time() + 30, usegmt=True)  # IMF-fixdate
    with (
        scripted([rate_limited_until(in_30_s), (201, {}, MESSAGE)]) as server,
        Host.load(Settings(base_url=server.base_url, retry=RetryPolicy(sleep=sleeps))) as host,
    ):
        output = host.execute(sms_step(), connection=CONNECTION)
    assert output["sid"] == "SM" + "a" * 32
    assert server.requests == 2
    [waited] = sleeps
    assert 25 <= waited <= 30  # whole seconds in the date, some slack for a slow machine


def test_a_retry_after_http_date_in_the_past_retries_without_waiting(sleeps: Sleeps) -> None:
    past = "Wed, 21 Oct 2015 07:28:00 GMT"
    with (
        scripted([rate_limited_until(past), (201, {}, MESSAGE)]) as server,
        Host.load(Settings(base_url=server.base_url, retry=RetryPolicy(sleep=sleeps))) as host,
    ):
        host.execute(sms_step(), connection=CONNECTION)
    assert sleeps == [0.0]
    assert server.requests == 2


def test_a_retry_after_http_date_beyond_the_budget_gives_up_at_once(sleeps: Sleeps) -> None:
    in_a_day = email.utils.formatdate(time.time() + 86_400, usegmt=True)
    policy = RetryPolicy(max_total_wait=30, sleep=sleeps)
    with (
        scripted([rate_limited_until(in_a_day)]) as server,
        Host.load(Settings(base_url=server.base_url, retry=policy)) as host,
        pytest.raises(RateLimitedError) as raised,
    ):
        host.execute(sms_step(), connection=CONNECTION)
    assert raised.value.retry_after is not None
    assert 86_000 <= raised.value.retry_after <= 86_400
    assert sleeps == []
    assert server.requests == 1
