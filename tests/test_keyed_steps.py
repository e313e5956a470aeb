"""Keyed steps with a journal: at most one message per key across reruns, faults and crashes."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import creates, no_sleep, sms_step

from twilio_component import (
    ConnectionConfigError,
    Host,
    KeyBusyError,
    KeyConflictError,
    KeyHeldError,
    OutcomeUnknownError,
    ParameterError,
    Problem,
    RecordedRefusal,
    RetryPolicy,
    StepError,
    TwilioAPIError,
    WebhookRequest,
)
from twilio_component.journal import Journal
from twilio_component.sandbox import Sandbox
from twilio_component.twilio.settings import Settings
from twilio_component.twilio.signature import compute_signature

UNSUBSCRIBED = "+15005550004"


def settings_for(sandbox: Sandbox, journal: Path) -> Settings:
    return Settings(
        base_url=sandbox.base_url,
        journal=str(journal),
        reconcile_delay=0.0,
        retry=RetryPolicy(sleep=no_sleep),
    )


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "steps.db"


@pytest.fixture
def host(twilio_sandbox: Sandbox, journal_path: Path) -> Iterator[Host]:
    with Host.load(settings_for(twilio_sandbox, journal_path)) as loaded:
        yield loaded


def test_the_same_key_twice_sends_once_and_returns_the_same_output(
    host: Host, twilio_sandbox: Sandbox
) -> None:
    first = host.execute(sms_step(), connection=twilio_sandbox.connection, key="order-1")
    again = host.execute(sms_step(), connection=twilio_sandbox.connection, key="order-1")
    assert again == first
    assert creates(twilio_sandbox) == 1


def test_the_same_key_with_another_body_is_refused_and_sends_nothing(
    host: Host, twilio_sandbox: Sandbox
) -> None:
    host.execute(sms_step(), connection=twilio_sandbox.connection, key="order-1")
    with pytest.raises(KeyConflictError, match="order-1"):
        host.execute(sms_step(Body="other"), connection=twilio_sandbox.connection, key="order-1")
    assert creates(twilio_sandbox) == 1


def test_a_key_survives_a_new_host_on_the_same_journal(
    twilio_sandbox: Sandbox, journal_path: Path
) -> None:
    outputs = []
    for _ in range(2):
        with Host.load(settings_for(twilio_sandbox, journal_path)) as fresh:
            outputs.append(fresh.execute(sms_step(), connection=twilio_sandbox.connection, key="k"))
    assert outputs[0] == outputs[1]
    assert creates(twilio_sandbox) == 1


def test_a_key_without_a_journal_says_how_to_configure_one(twilio_sandbox: Sandbox) -> None:
    with (
        Host.load(Settings(base_url=twilio_sandbox.base_url)) as plain,
        pytest.raises(StepError, match="journal"),
    ):
        plain.execute(sms_step(), connection=twilio_sandbox.connection, key="k")
    assert creates(twilio_sandbox) == 0


def test_a_refusal_is_recorded_and_never_attempted_again(
    host: Host, twilio_sandbox: Sandbox
) -> None:
    step = sms_step(To=UNSUBSCRIBED)
    with pytest.raises(TwilioAPIError) as first:
        host.execute(step, connection=twilio_sandbox.connection, key="opt-out")
    with pytest.raises(RecordedRefusal) as again:
        host.execute(step, connection=twilio_sandbox.connection, key="opt-out")
    assert first.value.code == again.value.code == 21610
    assert creates(twilio_sandbox) == 1


def test_an_unknown_outcome_is_looked_up_on_the_next_run_and_not_sent_again(
    host: Host, twilio_sandbox: Sandbox
) -> None:
    twilio_sandbox.faults.drop_after_create()
    with pytest.raises(OutcomeUnknownError):
        host.execute(sms_step(), connection=twilio_sandbox.connection, key="dropped")
    found = host.execute(sms_step(), connection=twilio_sandbox.connection, key="dropped")
    assert [m["sid"] for m in twilio_sandbox.messages] == [found["sid"]]


def test_a_request_dropped_before_creating_is_sent_on_the_next_run(
    host: Host, twilio_sandbox: Sandbox
) -> None:
    twilio_sandbox.faults.drop_before_create()
    with pytest.raises(OutcomeUnknownError):
        host.execute(sms_step(), connection=twilio_sandbox.connection, key="lost")
    assert twilio_sandbox.messages == []
    sent = host.execute(sms_step(), connection=twilio_sandbox.connection, key="lost")
    assert [m["sid"] for m in twilio_sandbox.messages] == [sent["sid"]]


def test_an_ambiguous_earlier_attempt_is_held_and_stays_held(
    host: Host, twilio_sandbox: Sandbox
) -> None:
    twilio_sandbox.faults.drop_after_create()
    with pytest.raises(OutcomeUnknownError):
        host.execute(sms_step(), connection=twilio_sandbox.connection, key="twice")
    host.execute(sms_step(), connection=twilio_sandbox.connection)  # the same message, unkeyed
    for _ in range(2):
        with pytest.raises(KeyHeldError):
            host.execute(sms_step(), connection=twilio_sandbox.connection, key="twice")
    assert creates(twilio_sandbox) == 2


def test_threads_racing_on_one_key_send_one_message(host: Host, twilio_sandbox: Sandbox) -> None:
    results: list[Any] = []

    def send() -> None:
        try:
            results.append(host.execute(sms_step(), connection=twilio_sandbox.connection, key="r"))
        except KeyBusyError as busy:
            results.append(busy)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert creates(twilio_sandbox) == 1
    sids = {r["sid"] for r in results if isinstance(r, dict)}
    assert len(sids) == 1


CRASHING_CHILD = """
import os, signal, sys
from twilio_component import Host
from twilio_component.journal import Journal
from twilio_component.twilio.settings import Settings

point, base_url, journal, sid, token = sys.argv[1:]
original = getattr(Journal, point)

def crash(self, *args, **kwargs):
    original(self, *args, **kwargs) if point == "claim" else None
    os.kill(os.getpid(), signal.SIGKILL)  # the process dies here, as a power cut would

setattr(Journal, point, crash)
step = {"type": "twilio/v1/sendSMS",
        "parameters": {"To": "+15558675310", "From": "+15005550006", "Body": "crash"}}
with Host.load(Settings(base_url=base_url, journal=journal)) as host:
    host.execute(step, connection={"username": sid, "password": token}, key="crash-1")
"""


@pytest.mark.parametrize(
    "point",
    ["sent", "claim"],
    ids=["killed between the 201 and its commit", "killed after the attempt, before sending"],
)
def test_a_process_killed_mid_step_leaves_exactly_one_message_after_the_rerun(
    twilio_sandbox: Sandbox, journal_path: Path, point: str
) -> None:
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            CRASHING_CHILD,
            point,
            twilio_sandbox.base_url,
            str(journal_path),
            twilio_sandbox.account_sid,
            twilio_sandbox.auth_token,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    record = Journal(journal_path).get("crash-1")
    assert record is not None
    assert record.state == "claimed"
    step = sms_step(Body="crash")
    with Host.load(settings_for(twilio_sandbox, journal_path)) as rerun:
        output = rerun.execute(step, connection=twilio_sandbox.connection, key="crash-1")
        assert rerun.execute(step, connection=twilio_sandbox.connection, key="crash-1") == output
    assert [m["sid"] for m in twilio_sandbox.messages] == [output["sid"]]


def test_trigger_events_in_the_journal_are_not_run_again_after_a_restart(
    twilio_sandbox: Sandbox, journal_path: Path
) -> None:
    url = "https://hooks.example.com/in"
    fields = {"MessageSid": "SM" + "9" * 32, "From": "+15558675310", "To": "+15005550006"}
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": compute_signature(twilio_sandbox.auth_token, url, fields),
    }
    request = WebhookRequest("POST", url, headers, urlencode(fields).encode())
    counts = []
    for _ in range(2):
        with Host.load(settings_for(twilio_sandbox, journal_path)) as restarted:
            received = restarted.receive(
                "twilio/v1/newIncomingSMS", request, connection=twilio_sandbox.connection
            )
            counts.append(len(received.events))
    assert counts == [1, 0]


def _component_refusing_before_it_sends(refusal: Exception) -> Any:
    """A throwaway component whose handler refuses its step before anything leaves."""
    import copy

    import yaml

    from twilio_component import Component, Invocation
    from twilio_component.descriptor import parse_descriptor
    from twilio_component.resources import read_text
    from twilio_component.twilio.output import SHAPES

    data: dict[str, Any] = copy.deepcopy(yaml.safe_load(read_text("component.yaml")))
    data["name"] = "refuser"
    data["actions"] = [{**data["actions"][0], "name": "say", "rules": []}]
    data.pop("triggers", None)
    calls: list[str] = []

    def say(invocation: Invocation) -> dict[str, Any]:
        calls.append("say")
        if len(calls) == 1:
            raise refusal
        return {"said": dict(invocation.parameters)}

    return Component(parse_descriptor(data), handlers={"say": say}, shapes=SHAPES)


@pytest.mark.parametrize(
    "refusal",
    [
        ConnectionConfigError([Problem("password", "is expired")]),
        ParameterError([Problem("To", "is not reachable from this account")]),
    ],
    ids=["connection", "parameters"],
)
def test_a_handler_refusing_before_it_sends_leaves_the_key_pending(
    tmp_path: Path, refusal: Exception
) -> None:
    component = _component_refusing_before_it_sends(refusal)
    step = {"type": "refuser/v1/say", "parameters": sms_step()["parameters"]}
    connection = {"username": "AC" + "a" * 32, "password": "p"}
    with Host([component], Settings(journal=str(tmp_path / "steps.db"))) as host:
        with pytest.raises(type(refusal)):
            host.execute(step, connection=connection, key="k-1")
        record = host.journal.get("k-1")
        assert record is not None
        assert record.state == "pending"
        assert host.execute(step, connection=connection, key="k-1") == {"said": step["parameters"]}


def test_a_keyed_step_holding_a_lone_surrogate_is_refused_before_the_journal_or_twilio(
    host: Host, twilio_sandbox: Sandbox
) -> None:
    with pytest.raises(ParameterError, match="Body: is not valid text") as refused:
        host.execute(sms_step(Body="hi \ud800"), connection=twilio_sandbox.connection, key="k-9")
    assert refused.value.may_have_sent is False
    assert host.journal.get("k-9") is None
    assert twilio_sandbox.requests == []
