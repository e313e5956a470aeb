"""makeCall and updateCall: checked as Twilio checks them before anything is sent; Say becomes
TwiML; the form Twilio receives; the call command's flags and exit codes."""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from conftest import FROM, TO, Cli
from hypothesis import given
from hypothesis import strategies as st

from twilio_component.errors import ComponentError, ParameterError
from twilio_component.host import Host
from twilio_component.sandbox import Sandbox
from twilio_component.twilio.voice import TWIML_LIMIT, spoken_rule, spoken_twiml, twiml_problem

SAY = "Your appointment is tomorrow at ten."
CALL_SID = "CA" + "0" * 32


def call_step(**parameters: Any) -> dict[str, Any]:
    """A twilio/v1/makeCall step; To and From default to valid values, Say to a sentence."""
    values: dict[str, Any] = {"To": TO, "From": FROM, "Say": SAY}
    values.update(parameters)
    return {
        "type": "twilio/v1/makeCall",
        "parameters": {k: v for k, v in values.items() if v is not None},
    }


def problems(host: Host, step: dict[str, Any]) -> dict[str, str]:
    return {p.path: p.reason for p in host.check_step(step)}


def call_creates(sandbox: Sandbox) -> list[dict[str, list[str]]]:
    """The forms of the call creates (POST Calls.json) that reached the sandbox."""
    return [
        r.form for r in sandbox.requests if r.method == "POST" and r.path.endswith("/Calls.json")
    ]


def test_a_call_with_one_instruction_passes_the_checks(host: Host) -> None:
    for instruction in (
        {"Say": "Hello"},
        {"Say": None, "Twiml": "<Response><Hangup/></Response>"},
        {"Say": None, "Url": "https://example.com/twiml.xml"},
        {"Say": None, "ApplicationSid": "AP" + "a" * 32},
    ):
        assert host.check_step(call_step(**instruction)) == []


def test_a_call_without_instructions_names_the_four_ways_to_give_them(host: Host) -> None:
    (reason,) = problems(host, call_step(Say=None)).values()
    for name in ("Say", "Twiml", "Url", "ApplicationSid"):
        assert name in reason


def test_two_instructions_at_once_are_refused_naming_both(host: Host) -> None:
    found = problems(host, call_step(Url="https://example.com/t.xml"))
    assert found == {"Url": "is given with Say: give only one of Say, Twiml, Url or ApplicationSid"}


@pytest.mark.parametrize(
    ("twiml", "why"),
    [
        ("<Response><Say>Hi</Response>", "not well-formed XML"),
        ("Hello there", "not well-formed XML"),
        ("<Say>Hi</Say>", "root element"),
        ('<!DOCTYPE r [<!ENTITY a "b">]><Response>&a;</Response>', "document type"),
    ],
)
def test_twiml_that_twilio_cannot_run_is_refused(host: Host, twiml: str, why: str) -> None:
    assert why in problems(host, call_step(Say=None, Twiml=twiml))["Twiml"]


def test_twiml_over_4000_characters_is_refused(host: Host) -> None:
    twiml = "<Response><Say>" + "a" * (TWIML_LIMIT - 31) + "</Say></Response>"
    assert len(twiml) == TWIML_LIMIT + 1
    assert "4,000" in problems(host, call_step(Say=None, Twiml=twiml))["Twiml"]
    assert host.check_step(call_step(Say=None, Twiml=twiml.replace("aa", "a", 1))) == []


def test_say_whose_twiml_would_pass_4000_characters_is_refused(host: Host) -> None:
    assert "4,000" in problems(host, call_step(Say="&" * 800))["Say"]


@pytest.mark.parametrize("timeout", [0, 601, -1])
def test_timeout_outside_1_to_600_is_refused(host: Host, timeout: int) -> None:
    assert "1 to 600" in problems(host, call_step(Timeout=timeout))["Timeout"]


def test_unknown_status_callback_events_are_named_by_position(host: Host) -> None:
    found = problems(host, call_step(StatusCallbackEvent=["answered", "picked-up"]))
    assert list(found) == ["StatusCallbackEvent[1]"]


def test_a_client_caller_id_cannot_call_a_phone_number(host: Host) -> None:
    assert "phone number" in problems(host, call_step(From="client:alice"))["From"]
    assert host.check_step(call_step(To="client:bob", From="client:alice")) == []


def test_voice_without_say_is_refused(host: Host) -> None:
    found = problems(host, call_step(Say=None, Twiml="<Response/>", Voice="woman"))
    assert "Say" in found


def test_update_call_takes_exactly_one_change(host: Host) -> None:
    def update(**parameters: str) -> dict[str, Any]:
        return {"type": "twilio/v1/updateCall", "parameters": {"Sid": CALL_SID, **parameters}}

    assert "Status" in problems(host, update())
    assert "Url" in problems(host, update(Status="completed", Url="https://example.com/t.xml"))
    assert "Status" in problems(host, update(Status="answered"))


def test_invalid_calls_send_nothing(host: Host, twilio_sandbox: Sandbox) -> None:
    step = call_step(Say=None, Twiml="<Response/>", Timeout=0)
    with pytest.raises(ParameterError):
        host.execute(step, connection=twilio_sandbox.connection)
    assert call_creates(twilio_sandbox) == []


def test_say_reaches_twilio_as_escaped_twiml_with_voice_and_language(
    host: Host, twilio_sandbox: Sandbox
) -> None:
    step = call_step(Say="Fish & chips <today>", Voice="Polly.Joanna", Language="en-GB")
    step["parameters"]["StatusCallbackEvent"] = ["ringing", "completed"]
    step["parameters"]["Timeout"] = 30
    with contextlib.suppress(ComponentError):  # what the sandbox answers is not the subject
        host.execute(step, connection=twilio_sandbox.connection)
    (form,) = call_creates(twilio_sandbox)
    assert {"Say", "Voice", "Language"}.isdisjoint(form)
    (twiml,) = form["Twiml"]
    say = ET.fromstring(twiml).find("Say")
    assert say is not None
    assert (say.text, say.get("voice"), say.get("language")) == (
        "Fish & chips <today>",
        "Polly.Joanna",
        "en-GB",
    )
    assert form["StatusCallbackEvent"] == ["ringing", "completed"]
    assert form["Timeout"] == ["30"]


@given(st.text(min_size=1, max_size=200))
def test_spoken_text_is_refused_or_becomes_twiml_that_reads_it_back(text: str) -> None:
    refused = spoken_rule({"Say": text}, {"parameters": ["Say"]})
    if refused:
        assert [p.path for p in refused] == ["Say"]
        return
    document = spoken_twiml(text)
    assert twiml_problem(document) is None
    say = ET.fromstring(document).find("Say")
    assert say is not None
    assert say.text == text.replace("\r\n", "\n").replace("\r", "\n")


def test_call_command_refuses_bad_input_with_exit_2_and_sends_nothing(
    cli: Cli, twilio_sandbox: Sandbox
) -> None:
    result = cli(
        "call", "--to", TO, "--from", FROM, "--say", "Hi", "--twiml", "<Response>",
        "--param", "Timeout=0",
    )  # fmt: skip
    assert result.code == 2
    for named in ("Twiml: is given with Say", "Twiml: is not well-formed", "Timeout: 0"):
        assert named in result.err
    assert call_creates(twilio_sandbox) == []


def test_call_help_shows_examples() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "twilio_component", "call", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "--say" in done.stdout
    assert "examples:" in done.stdout
