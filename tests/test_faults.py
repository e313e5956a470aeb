"""One test per fault of a misbehaving server: exit code or error class, and never two messages."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from conftest import FROM, TO, Cli, creates, no_sleep, sms_step

from twilio_component.host import Host
from twilio_component.sandbox import Faults, Sandbox
from twilio_component.settings import RetryPolicy
from twilio_component.twilio.errors import (
    OutcomeUnknownError,
    RateLimitedError,
    RequestNotSentError,
    TwilioAPIError,
)
from twilio_component.twilio.settings import Settings

SEND = ("send", "--to", TO, "--from", FROM, "--body", "fault test")

#: Faults after which the outcome is unknown, each armed for the next create, with the number
#: of messages the sandbox then holds (whether the fault struck before or after creating) and
#: the HTTP status the error keeps (None when no answer came).
UNKNOWN_OUTCOMES: dict[str, tuple[Callable[[Faults], None], int, int | None]] = {
    "500 after creating": (lambda f: f.error_after_create(status=500), 1, 500),
    "503 after creating": (lambda f: f.error_after_create(status=503), 1, 503),
    "drop after creating": (lambda f: f.drop_after_create(), 1, None),
    "drop after the request was written": (lambda f: f.drop_before_create(), 0, None),
    "502 HTML page": (lambda f: f.gateway_page(status=502), 0, 502),
    "201 with an unreadable body": (lambda f: f.garbled_created(), 1, 201),
}


def closed_port() -> int:
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


@pytest.fixture
def quick_host(twilio_sandbox: Sandbox) -> Iterator[Host]:
    """A host on the sandbox with a 2 s read timeout and retries that do not sleep."""
    settings = Settings(
        base_url=twilio_sandbox.base_url, read_timeout=2.0, retry=RetryPolicy(sleep=no_sleep)
    )
    with Host.load(settings) as host:
        yield host


# -- through the command line ----------------------------------------------------------------


def test_two_429s_then_success_exit_0_with_one_message_after_three_requests(
    cli: Cli, twilio_sandbox: Sandbox
) -> None:
    twilio_sandbox.faults.rate_limit(2)
    result = cli(*SEND)
    assert result.code == 0, result.err
    assert creates(twilio_sandbox) == 3
    assert [m["sid"] for m in twilio_sandbox.messages] == [result.json()["sid"]]


def test_endless_429_exits_3_after_a_bounded_number_of_requests(
    cli: Cli, twilio_sandbox: Sandbox
) -> None:
    twilio_sandbox.faults.rate_limit(100)
    slept: list[float] = []
    result = cli(*SEND, settings=Settings(retry=RetryPolicy(sleep=slept.append)))
    assert len(slept) == RetryPolicy().max_attempts - 1  # the injected policy's sleep, not real
    assert result.code == 3
    assert "20429" in result.err
    assert "Nothing was sent" in result.err
    assert creates(twilio_sandbox) == RetryPolicy().max_attempts
    assert twilio_sandbox.messages == []


@pytest.mark.parametrize("fault", list(UNKNOWN_OUTCOMES))
def test_unknown_outcome_exits_4_after_exactly_one_request(
    fault: str, cli: Cli, twilio_sandbox: Sandbox
) -> None:
    arm, messages, _status = UNKNOWN_OUTCOMES[fault]
    arm(twilio_sandbox.faults)
    result = cli(*SEND)
    assert result.code == 4, result.err
    assert creates(twilio_sandbox) == 1
    assert len(twilio_sandbox.messages) == messages
    assert "may have been sent" in result.err
    assert "not retried" in result.err
    assert TO in result.err
    assert FROM in result.err
    assert result.out == ""


def test_an_answer_slower_than_the_timeout_exits_4_within_6_seconds(
    cli: Cli, twilio_sandbox: Sandbox
) -> None:
    twilio_sandbox.faults.slow(seconds=10)
    started = time.monotonic()
    result = cli(*SEND, "--timeout", "2")
    elapsed = time.monotonic() - started
    assert result.code == 4
    assert "2 s read timeout" in result.err
    assert 1.9 <= elapsed < 6
    assert creates(twilio_sandbox) == 1
    assert len(twilio_sandbox.messages) == 1


def test_400_exits_3_with_twilios_code_and_sends_nothing(cli: Cli, twilio_sandbox: Sandbox) -> None:
    result = cli("send", "--to", "+15005550001", "--from", FROM, "--body", "x")
    assert result.code == 3
    assert "error 21211" in result.err
    assert "https://www.twilio.com/docs/errors/21211" in result.err
    assert "Nothing was sent" in result.err
    assert creates(twilio_sandbox) == 1
    assert twilio_sandbox.messages == []


def test_connection_refused_exits_1_with_a_clear_message(
    cli: Cli, sandbox_env: dict[str, str], twilio_sandbox: Sandbox
) -> None:
    env = {**sandbox_env, "TWILIO_API_BASE_URL": f"http://127.0.0.1:{closed_port()}"}
    result = cli(*SEND, env=env)
    assert result.code == 1
    assert "could not reach Twilio" in result.err
    assert "connection was refused" in result.err
    assert "Nothing was sent" in result.err
    assert twilio_sandbox.requests == []


# -- through the Python API --------------------------------------------------------------------


@pytest.mark.parametrize("fault", list(UNKNOWN_OUTCOMES))
def test_unknown_outcome_raises_outcome_unknown_with_to_from_and_time(
    fault: str, quick_host: Host, twilio_sandbox: Sandbox
) -> None:
    arm, messages, status = UNKNOWN_OUTCOMES[fault]
    arm(twilio_sandbox.faults)
    before = time.time()
    with pytest.raises(OutcomeUnknownError) as raised:
        quick_host.execute(sms_step(), connection=twilio_sandbox.connection)
    error = raised.value
    assert error.may_have_sent
    assert error.status == status
    assert error.reason
    assert (error.to, error.from_) == (TO, FROM)
    assert error.attempted_at is not None
    assert before - 1 <= error.attempted_at.timestamp() <= time.time()
    assert creates(twilio_sandbox) == 1
    assert len(twilio_sandbox.messages) == messages


def test_a_slow_answer_raises_outcome_unknown_and_the_message_exists_once(
    quick_host: Host, twilio_sandbox: Sandbox
) -> None:
    twilio_sandbox.faults.slow(seconds=5)
    with pytest.raises(OutcomeUnknownError, match=r"2 s read timeout"):
        quick_host.execute(sms_step(), connection=twilio_sandbox.connection)
    assert creates(twilio_sandbox) == 1
    assert len(twilio_sandbox.messages) == 1


def test_a_5xx_keeps_its_status_on_the_error(quick_host: Host, twilio_sandbox: Sandbox) -> None:
    twilio_sandbox.faults.error_after_create(status=503)
    with pytest.raises(OutcomeUnknownError) as raised:
        quick_host.execute(sms_step(), connection=twilio_sandbox.connection)
    assert raised.value.status == 503


def test_endless_429_raises_rate_limited_with_twilios_fields(
    quick_host: Host, twilio_sandbox: Sandbox
) -> None:
    twilio_sandbox.faults.rate_limit(100)
    with pytest.raises(RateLimitedError) as raised:
        quick_host.execute(sms_step(), connection=twilio_sandbox.connection)
    error = raised.value
    assert not error.may_have_sent
    assert (error.status, error.code, error.attempts) == (429, 20429, 4)
    assert error.retry_after is None
    assert error.twilio_message
    assert error.more_info == "https://www.twilio.com/docs/errors/20429"
    assert creates(twilio_sandbox) == 4


def test_a_refusal_keeps_twilios_code_message_and_more_info(
    quick_host: Host, twilio_sandbox: Sandbox
) -> None:
    with pytest.raises(TwilioAPIError) as raised:
        quick_host.execute(sms_step(To="+15005550004"), connection=twilio_sandbox.connection)
    error = raised.value
    assert (error.status, error.code) == (400, 21610)
    assert error.twilio_message
    assert error.twilio_message in str(error)
    assert error.more_info == "https://www.twilio.com/docs/errors/21610"
    assert not error.may_have_sent


def test_connection_refused_raises_request_not_sent_after_the_retries() -> None:
    slept: list[float] = []
    settings = Settings(
        base_url=f"http://127.0.0.1:{closed_port()}", retry=RetryPolicy(sleep=slept.append)
    )
    with Host.load(settings) as host, pytest.raises(RequestNotSentError) as raised:
        host.execute(sms_step(), connection={"username": "AC" + "0" * 32, "password": "x"})
    assert raised.value.attempts == 4
    assert len(slept) == 3
    assert not raised.value.may_have_sent


def test_a_failed_tls_handshake_is_not_sent_and_not_retried(twilio_sandbox: Sandbox) -> None:
    slept: list[float] = []
    https = twilio_sandbox.base_url.replace("http://", "https://")
    settings = Settings(base_url=https, retry=RetryPolicy(sleep=slept.append))
    with Host.load(settings) as host, pytest.raises(RequestNotSentError, match="TLS") as raised:
        host.execute(sms_step(), connection=twilio_sandbox.connection)
    assert raised.value.attempts == 1
    assert slept == []
    assert twilio_sandbox.requests == []


def test_a_fault_after_a_429_is_still_reported_once(
    quick_host: Host, twilio_sandbox: Sandbox
) -> None:
    twilio_sandbox.faults.rate_limit(1)
    twilio_sandbox.faults.drop_after_create()
    with pytest.raises(OutcomeUnknownError):
        quick_host.execute(sms_step(), connection=twilio_sandbox.connection)
    assert creates(twilio_sandbox) == 2
    assert len(twilio_sandbox.messages) == 1


def test_the_next_step_after_a_fault_sends_normally(
    quick_host: Host, twilio_sandbox: Sandbox
) -> None:
    twilio_sandbox.faults.drop_after_create()
    with pytest.raises(OutcomeUnknownError):
        quick_host.execute(sms_step(Body="first"), connection=twilio_sandbox.connection)
    output = quick_host.execute(sms_step(Body="second"), connection=twilio_sandbox.connection)
    assert output["body"] == "second"
    assert creates(twilio_sandbox) == 2


# -- a server that trickles its answer -----------------------------------------------------------


def trickling_server(head: bytes) -> tuple[socket.socket, threading.Event]:
    """A loopback server that reads one request, sends ``head``, then a byte every 0.2 s."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65_536)
            try:
                connection.sendall(head)
                while not stop.wait(0.2):
                    connection.sendall(b"x")
            except OSError:
                pass

    threading.Thread(target=serve, daemon=True).start()
    return listener, stop


def test_trickled_headers_cannot_outlast_the_timeout(cli: Cli, sandbox_env: dict[str, str]) -> None:
    listener, stop = trickling_server(b"HTTP/1.1 201 Created\r\nX-Slow: ")
    env = {**sandbox_env, "TWILIO_API_BASE_URL": f"http://127.0.0.1:{listener.getsockname()[1]}"}
    started = time.monotonic()
    try:
        result = cli(*SEND, "--timeout", "1", env=env)
    finally:
        stop.set()
        listener.close()
    assert result.code == 4
    assert "1 s read timeout" in result.err
    assert time.monotonic() - started < 8  # the trickle alone would go on for ever


def test_a_trickled_body_cannot_outlast_the_timeout() -> None:
    listener, stop = trickling_server(
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
    )
    settings = Settings(base_url=f"http://127.0.0.1:{listener.getsockname()[1]}", read_timeout=0.5)
    started = time.monotonic()
    try:
        with Host.load(settings) as host, pytest.raises(OutcomeUnknownError, match=r"0\.5 s"):
            host.execute(sms_step(), connection={"username": "AC" + "0" * 32, "password": "x"})
    finally:
        stop.set()
        listener.close()
    assert time.monotonic() - started < 8  # the trickle alone would take 20,000 s


def test_an_endless_answer_is_cut_off_and_reported_as_unknown() -> None:
    listener = socket.create_server(("127.0.0.1", 0))

    def flood() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65_536)
            try:
                connection.sendall(
                    b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n\r\n"
                )
                while True:
                    connection.sendall(b" " * 65_536)
            except OSError:
                pass

    threading.Thread(target=flood, daemon=True).start()
    settings = Settings(base_url=f"http://127.0.0.1:{listener.getsockname()[1]}")
    try:
        with Host.load(settings) as host, pytest.raises(OutcomeUnknownError, match="longer than"):
            host.execute(sms_step(), connection={"username": "AC" + "0" * 32, "password": "x"})
    finally:
        listener.close()


# -- a create answered with a 2xx other than 201 Created ------------------------------------------

MESSAGE_SID = "SM" + "b" * 32
MESSAGE = json.dumps({"sid": MESSAGE_SID, "status": "queued", "to": TO, "from": FROM}).encode()


class OneAnswer(http.server.ThreadingHTTPServer):
    """A loopback server that answers every POST with one status and body, and counts them."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body
        self.posts = 0
        super().__init__(("127.0.0.1", 0), _OneAnswerHandler)


class _OneAnswerHandler(http.server.BaseHTTPRequestHandler):
    server: OneAnswer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.posts += 1
        self.send_response(self.server.status)
        if self.server.status != 204:
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        if self.server.status != 204:
            self.wfile.write(self.server.body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def answering() -> Iterator[Callable[[int, bytes], OneAnswer]]:
    servers: list[OneAnswer] = []

    def start(status: int, body: bytes) -> OneAnswer:
        server = OneAnswer(status, body)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("status", "body"), [(200, MESSAGE), (202, MESSAGE), (204, b"")])
def test_a_create_answered_with_another_2xx_than_201_is_an_unknown_outcome(
    status: int, body: bytes, answering: Callable[[int, bytes], OneAnswer]
) -> None:
    server = answering(status, body)
    settings = Settings(base_url=f"http://127.0.0.1:{server.server_address[1]}")
    with Host.load(settings) as host, pytest.raises(OutcomeUnknownError) as raised:
        host.execute(sms_step(), connection={"username": "AC" + "0" * 32, "password": "x"})
    error = raised.value
    assert error.status == status
    assert f"HTTP {status}" in error.reason
    assert "201" in error.reason
    assert "created)" not in error.reason
    assert error.sid == (MESSAGE_SID if body else None)
    assert server.posts == 1


@pytest.mark.parametrize(
    "body",
    [b'{"status": "queued"}', b'{"sid": "not-a-message-sid"}', b'{"sid": "AC' + b"0" * 32 + b'"}'],
)
def test_a_201_without_a_message_resource_is_an_unknown_outcome(
    body: bytes, answering: Callable[[int, bytes], OneAnswer]
) -> None:
    server = answering(201, body)
    settings = Settings(base_url=f"http://127.0.0.1:{server.server_address[1]}")
    with Host.load(settings) as host, pytest.raises(OutcomeUnknownError) as raised:
        host.execute(sms_step(), connection={"username": "AC" + "0" * 32, "password": "x"})
    assert raised.value.status == 201
    assert "not with a readable message" in raised.value.reason
    assert server.posts == 1
