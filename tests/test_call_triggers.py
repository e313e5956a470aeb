"""The call triggers: newIncomingCall answered with the workflow's TwiML after its tasks ran, and
callStatus ranked in a call's life; signed, deduplicated, restored like the SMS triggers."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_listen import (
    CALLER,
    NUMBER,
    Process,
    control,
    environment,
    post,
    replies,
    sdk,
    start,
    stop,
)
from test_trigger_receive import ACCOUNT, CONNECTION, signed
from twilio.request_validator import RequestValidator

from twilio_component import Host
from twilio_component.errors import WorkflowError
from twilio_component.sandbox import Sandbox
from twilio_component.twilio.settings import Settings
from twilio_component.workflow import Workflow

EXAMPLES = Path(__file__).parent.parent / "examples"
MISSED_CALL = EXAMPLES / "missed_call.json"
INCOMING = "twilio/v1/newIncomingCall"
STATUS = "twilio/v1/callStatus"
URL = "https://hooks.example.com/twilio/v1/newIncomingCall"
CALL = "CA" + "b" * 32


def call_fields(sid: str = CALL, **extra: str) -> dict[str, str]:
    """An incoming call's webhook fields as Twilio posts them."""
    return {
        "CallSid": sid,
        "AccountSid": ACCOUNT,
        "From": CALLER,
        "To": NUMBER,
        "CallStatus": "ringing",
        "ApiVersion": "2010-04-01",
        "Direction": "inbound",
        "Caller": CALLER,
        "Called": NUMBER,
        **extra,
    }


def status_fields(status: str, sequence: int, sid: str = CALL) -> dict[str, str]:
    """A call status callback's fields."""
    return {
        "CallSid": sid,
        "AccountSid": ACCOUNT,
        "From": NUMBER,
        "To": CALLER,
        "CallStatus": status,
        "SequenceNumber": str(sequence),
        "CallbackSource": "call-progress-events",
        "Direction": "outbound-api",
        "ApiVersion": "2010-04-01",
        **({"CallDuration": "7"} if status == "completed" else {}),
    }


@pytest.fixture
def host() -> Iterator[Host]:
    with Host.load() as loaded:
        yield loaded


def workflow(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(MISSED_CALL.read_text(encoding="utf-8"))
    document.update(changes)
    return {k: v for k, v in document.items() if v is not None}


# -- receiving -------------------------------------------------------------------------------


def test_a_signed_incoming_call_is_one_event_answered_with_hang_up_twiml(host: Host) -> None:
    received = host.receive(INCOMING, signed(call_fields(), URL), connection=CONNECTION)
    (event,) = received.events
    assert (event["callSid"], event["from"], event["to"]) == (CALL, CALLER, NUMBER)
    assert (event["callStatus"], event["direction"]) == ("ringing", "inbound")
    assert event["callerName"] is None
    assert event["parameters"]["Called"] == NUMBER
    assert received.answer.headers["Content-Type"] == "text/xml"
    assert b"<Hangup/>" in received.answer.body


def test_a_forged_incoming_call_is_403_with_no_event(host: Host) -> None:
    forged = signed(call_fields(), URL, token="f" * 32)
    received = host.receive(INCOMING, forged, connection=CONNECTION)
    assert (received.answer.status, received.events) == (403, ())


def test_call_statuses_out_of_order_and_repeated_are_each_emitted_once_never_backwards(
    host: Host,
) -> None:
    arrivals = [("ringing", 1), ("initiated", 0), ("in-progress", 2), ("ringing", 1)]
    arrivals += [("completed", 3), ("completed", 3), ("in-progress", 2)]
    emitted = []
    for status, sequence in arrivals:
        request = signed(status_fields(status, sequence), URL.replace("newIncomingCall", "cs"))
        received = host.receive(STATUS, request, connection=CONNECTION)
        assert received.answer.status == 200
        emitted += [(e["callStatus"], e["sequenceNumber"]) for e in received.events]
    assert emitted == [("ringing", 1), ("in-progress", 2), ("completed", 3)]


def test_a_completed_status_carries_its_duration(host: Host) -> None:
    request = signed(status_fields("completed", 4), URL)
    (event,) = host.receive(STATUS, request, connection=CONNECTION).events
    assert (event["callDuration"], event["sequenceNumber"], event["answeredBy"]) == (7, 4, None)


# -- the workflow's answer -------------------------------------------------------------------


def test_the_missed_call_example_is_a_valid_listening_workflow(host: Host) -> None:
    Workflow(workflow(), host, trigger="required")


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("<Response><Say>Hi ${trigger.from}</Response>", "not well-formed"),
        ("<Say>${trigger.from}</Say>", "root"),
        ("<Response><Say>${trigger.nobody}</Say></Response>", "nobody"),
        (["<Response/>"], "must be text"),
    ],
)
def test_an_answer_that_is_no_twiml_is_refused_before_listening(
    host: Host, answer: Any, why: str
) -> None:
    with pytest.raises(WorkflowError) as caught:
        Workflow(workflow(answer=answer), host, trigger="required")
    assert [p.path for p in caught.value.problems] == ["answer"]
    assert why in caught.value.problems[0].reason


def test_an_answer_needs_a_trigger_that_waits_for_one(host: Host) -> None:
    sms = {"type": "twilio/v1/newIncomingSMS", "parameters": {"PhoneNumber": NUMBER}}
    with pytest.raises(WorkflowError, match="answers its webhook itself"):
        Workflow(workflow(trigger=sms), host, trigger="required")
    task: dict[str, Any] = {"name": "t", "type": "twilio/v1/sendSMS"}
    task["parameters"] = {"To": CALLER, "From": NUMBER, "Body": "hi"}
    untriggered = {"tasks": [task], "answer": "<Response/>"}
    with pytest.raises(WorkflowError, match="add a trigger"):
        Workflow(untriggered, host, trigger="allowed")


def test_validate_names_a_broken_answer_with_exit_2(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(workflow(answer="<Response>")), encoding="utf-8")
    validated = start_quietly("validate", str(broken))
    assert validated[0] == 2
    assert "answer: is not well-formed XML" in validated[1]


def start_quietly(*argv: str) -> tuple[int, str]:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "twilio_component", *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return done.returncode, done.stderr


def test_the_answer_is_filled_in_after_the_tasks_with_values_escaped(
    host: Host, twilio_sandbox: Sandbox
) -> None:
    document = workflow(
        answer="<Response><Say>${trigger.callerName} texted as ${text_back.sid}</Say></Response>"
    )
    with Host.load(Settings(base_url=twilio_sandbox.base_url)) as sending:
        flow = Workflow(document, sending, trigger="required")
        event = {**dict.fromkeys(("callSid", "from", "to")), "callerName": "Fish & <Chips>"}
        event |= {"from": CALLER, "to": NUMBER}
        execute = sending.executor({"twilio": twilio_sandbox.connection}, flow.step_types)
        done = flow.run(execute, event=event, answering=sending.answering(INCOMING))
    sid = done.tasks["text_back"]["sid"]
    assert done.answer_text == (
        f"<Response><Say>Fish &amp; &lt;Chips&gt; texted as {sid}</Say></Response>"
    )
    assert done.answer is not None
    assert done.answer.headers == {"Content-Type": "text/xml"}


# -- listen, end to end against a sandbox process ------------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[Process]:
    started = start("sandbox")
    yield started
    if started.process.poll() is None:
        stop(started)


def listen_for_calls(sandbox: Process) -> Process:
    return start("listen", str(MISSED_CALL), env=environment(sandbox))


def test_listen_points_the_numbers_voice_url_at_it_and_sigint_puts_it_back(
    sandbox: Process,
) -> None:
    before = sdk(sandbox).incoming_phone_numbers.list(phone_number=NUMBER)[0].voice_url
    listening = listen_for_calls(sandbox)
    try:
        number = sdk(sandbox).incoming_phone_numbers.list(phone_number=NUMBER)[0]
        assert number.voice_url == listening.first["webhook_url"]
    finally:
        assert stop(listening, signal.SIGINT) == 0
    after = sdk(sandbox).incoming_phone_numbers.list(phone_number=NUMBER)[0].voice_url
    assert (after or "") == (before or "")  # Twilio lists a cleared URL as ""
    assert after != listening.first["webhook_url"]


def test_a_call_hears_the_answer_with_its_number_and_is_texted_once(sandbox: Process) -> None:
    listening = listen_for_calls(sandbox)
    url = listening.first["webhook_url"]
    fields = call_fields(AccountSid=sandbox.first["account_sid"])
    signature = RequestValidator(sandbox.first["auth_token"]).compute_signature(url, fields)
    try:
        first = post(url, fields, signature)
        again = post(url, fields, signature)  # Twilio's retry of a slow answer
        forged = post(url, fields, RequestValidator("0" * 32).compute_signature(url, fields))
    finally:
        assert stop(listening) == 0
    status, kind, body = first
    assert (status, kind) == (200, "text/xml")
    assert f"Thanks for calling, {CALLER}." in body.decode()
    assert again[0] == 200
    assert forged[0] == 403
    (text,) = replies(sandbox)
    assert (text["to"], text["from"]) == (CALLER, NUMBER)
    (run,) = listening.lines()
    assert run["event"] == CALL
    assert run["answer"] == body.decode()


def test_control_inbound_messages_are_untouched_by_a_call_listener(sandbox: Process) -> None:
    listening = listen_for_calls(sandbox)
    try:
        control(sandbox, "POST", "inbound", {"From": CALLER, "To": NUMBER, "Body": "hi"})
        assert replies(sandbox) == []
    finally:
        stop(listening)


def test_an_inbound_call_through_the_sandbox_hears_the_answer_and_the_caller_is_texted_once(
    sandbox: Process,
) -> None:
    listening = listen_for_calls(sandbox)
    try:
        heard = control(sandbox, "POST", "calls/inbound", {"From": CALLER, "To": NUMBER})
    finally:
        assert stop(listening) == 0
    said = [entry["text"] for entry in heard["transcript"] if entry["verb"] == "Say"]
    assert said == [
        f"Thanks for calling, {CALLER}. Nobody can take your call right now, so we have sent "
        "you a text message."
    ]
    assert heard["status"] == "completed"
    (text,) = replies(sandbox)
    assert (text["to"], text["from"]) == (CALLER, NUMBER)
    (call,) = [c for c in control(sandbox, "GET", "calls")["calls"] if c["sid"] == heard["sid"]]
    assert [step["status"] for step in call["status_history"]] == [
        "ringing",
        "in-progress",
        "completed",
    ]
