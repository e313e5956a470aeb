"""Reconciliation: after an unknown outcome, the message is looked up, never sent again."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from conftest import FROM, TO, Cli, creates, no_sleep, sms_step

from twilio_component.host import Host
from twilio_component.sandbox import ManualClock, Sandbox
from twilio_component.settings import RetryPolicy
from twilio_component.twilio.errors import OutcomeUnknownError
from twilio_component.twilio.settings import Settings

SEND = ("send", "--to", TO, "--from", FROM, "--body", "reconcile me")


def lookups(sandbox: Sandbox) -> list[dict[str, list[str]]]:
    """The queries of the message lists (GET Messages.json) the sandbox answered."""
    return [r.query for r in sandbox.requests if r.method == "GET"]


def reconciling_host(sandbox: Sandbox) -> Host:
    settings = Settings(
        base_url=sandbox.base_url,
        read_timeout=0.5,
        reconcile=True,
        reconcile_delay=0.0,
        retry=RetryPolicy(sleep=no_sleep),
        strict_output=True,
    )
    return Host.load(settings)


@pytest.fixture
def host(twilio_sandbox: Sandbox) -> Iterator[Host]:
    with reconciling_host(twilio_sandbox) as loaded:
        yield loaded


def test_drop_after_create_with_reconcile_exits_0_with_the_created_message(
    cli: Cli, twilio_sandbox: Sandbox
) -> None:
    twilio_sandbox.faults.drop_after_create()
    result = cli(*SEND, "--reconcile")
    assert result.code == 0, result.err
    [message] = twilio_sandbox.messages
    assert result.json()["sid"] == message["sid"]
    assert result.json()["body"] == "reconcile me"
    assert creates(twilio_sandbox) == 1


def test_drop_before_create_with_reconcile_exits_4_not_found(
    cli: Cli, twilio_sandbox: Sandbox
) -> None:
    twilio_sandbox.faults.drop_before_create()
    result = cli(*SEND, "--reconcile")
    assert result.code == 4
    assert "not found" in result.err
    assert creates(twilio_sandbox) == 1
    assert twilio_sandbox.messages == []


def test_the_lookup_lists_by_to_and_from_without_date_sent(
    cli: Cli, twilio_sandbox: Sandbox
) -> None:
    twilio_sandbox.faults.drop_after_create()
    cli(*SEND, "--reconcile")
    [query] = lookups(twilio_sandbox)
    assert query["To"] == [TO]
    assert query["From"] == [FROM]
    assert not any(name.startswith("DateSent") for name in query)


def test_without_reconcile_nothing_is_looked_up(cli: Cli, twilio_sandbox: Sandbox) -> None:
    twilio_sandbox.faults.drop_after_create()
    assert cli(*SEND).code == 4
    assert lookups(twilio_sandbox) == []


@pytest.mark.parametrize(
    "fault", ["error_after_create", "drop_after_create", "garbled_created", "slow"]
)
def test_every_fault_after_creating_is_reconciled_to_the_message(
    fault: str, host: Host, twilio_sandbox: Sandbox
) -> None:
    if fault == "slow":
        twilio_sandbox.faults.slow(seconds=2)
    else:
        getattr(twilio_sandbox.faults, fault)()
    output = host.execute(sms_step(), connection=twilio_sandbox.connection)
    assert [m["sid"] for m in twilio_sandbox.messages] == [output["sid"]]
    assert creates(twilio_sandbox) == 1


@pytest.mark.parametrize("fault", ["drop_before_create", "gateway_page"])
def test_a_message_that_was_not_created_stays_unknown_and_says_it_was_looked_up(
    fault: str, host: Host, twilio_sandbox: Sandbox
) -> None:
    getattr(twilio_sandbox.faults, fault)()
    with pytest.raises(OutcomeUnknownError, match="not found") as raised:
        host.execute(sms_step(), connection=twilio_sandbox.connection)
    assert raised.value.looked_up
    assert (raised.value.to, raised.value.from_) == (TO, FROM)
    assert creates(twilio_sandbox) == 1
    assert len(lookups(twilio_sandbox)) == 2  # once, and once more after the delay


def test_a_message_with_another_body_is_not_taken_for_it(
    host: Host, twilio_sandbox: Sandbox
) -> None:
    host.execute(sms_step(Body="something else"), connection=twilio_sandbox.connection)
    twilio_sandbox.faults.drop_before_create()
    with pytest.raises(OutcomeUnknownError, match="not found"):
        host.execute(sms_step(Body="reconcile me"), connection=twilio_sandbox.connection)


def test_an_identical_message_from_long_before_is_not_taken_for_it() -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    with Sandbox(clock=ManualClock(an_hour_ago)) as sandbox, reconciling_host(sandbox) as host:
        host.execute(sms_step(), connection=sandbox.connection)
        sandbox.faults.drop_before_create()
        with pytest.raises(OutcomeUnknownError, match="not found"):
            host.execute(sms_step(), connection=sandbox.connection)


def test_a_few_seconds_of_clock_difference_with_twilio_are_tolerated() -> None:
    behind = datetime.now(UTC) - timedelta(seconds=5)
    with Sandbox(clock=ManualClock(behind)) as sandbox, reconciling_host(sandbox) as host:
        sandbox.faults.drop_after_create()
        output = host.execute(sms_step(), connection=sandbox.connection)
        assert [m["sid"] for m in sandbox.messages] == [output["sid"]]


def test_several_matching_messages_stay_unknown_and_are_named(
    host: Host, twilio_sandbox: Sandbox
) -> None:
    earlier = host.execute(sms_step(), connection=twilio_sandbox.connection)
    twilio_sandbox.faults.drop_after_create()
    with pytest.raises(OutcomeUnknownError, match="Several messages") as raised:
        host.execute(sms_step(), connection=twilio_sandbox.connection)
    assert earlier["sid"] in raised.value.matches
    assert len(raised.value.matches) == 2
    assert creates(twilio_sandbox) == 2


def test_the_message_found_is_the_documented_output_object(
    host: Host, twilio_sandbox: Sandbox
) -> None:
    twilio_sandbox.faults.drop_after_create()
    output = host.execute(sms_step(Body="Olá 👋"), connection=twilio_sandbox.connection)
    assert output["body"] == "Olá 👋"
    assert output["to"] == TO
    assert output["from"] == {"rawNumber": FROM}
    assert len(output) == 20


class DropsThenFails(BaseHTTPRequestHandler):
    """Drops every create without answering; answers every list with a 500 page."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.close_connection = True

    def do_GET(self) -> None:
        self.send_error(500)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def test_a_failed_lookup_keeps_the_outcome_unknown_and_says_why() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), DropsThenFails)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    settings = Settings(base_url=f"http://127.0.0.1:{server.server_address[1]}", reconcile=True)
    try:
        with Host.load(settings) as host, pytest.raises(OutcomeUnknownError) as raised:
            host.execute(sms_step(), connection={"username": "AC" + "0" * 32, "password": "x"})
    finally:
        server.shutdown()
        server.server_close()
    assert "Looking it up in Twilio's message log failed" in str(raised.value)
    assert "HTTP 500" in str(raised.value.lookup_error)
    assert not raised.value.looked_up
    assert raised.value.__context__ is None
