"""twilio/v1/sendMessage: every Twilio option, sent once and encoded as Twilio expects."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import FROM, TO, Cli, CliResult, creates
from openapi import assert_valid_create_form, create_message_schema

from twilio_component.host import Host
from twilio_component.sandbox import Sandbox

SERVICE = "MG" + "0123456789abcdef" * 2
TEMPLATE = "HX" + "fedcba9876543210" * 2
APPLICATION = "AP" + "0a" * 16
STATUS_URL = "https://example.com/twilio/status"


def run_task(cli: Cli, tmp_path: Path, parameters: dict[str, Any]) -> CliResult:
    """``twilio-component run`` on a one-task workflow of type twilio/v1/sendMessage."""
    workflow = {
        "tasks": [
            {
                "label": "Send Message",
                "name": "send",
                "type": "twilio/v1/sendMessage",
                "parameters": parameters,
            }
        ]
    }
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(workflow), encoding="utf-8")
    return cli("run", str(path))


@pytest.fixture
def run(cli: Cli, tmp_path: Path) -> Callable[[dict[str, Any]], CliResult]:
    """``run_task`` bound to this test's command line and directory."""
    return lambda parameters: run_task(cli, tmp_path, parameters)


def sent_form(sandbox: Sandbox) -> dict[str, list[str]]:
    """The form of the one create request that reached the sandbox, checked against the spec."""
    assert creates(sandbox) == 1
    (request,) = [r for r in sandbox.requests if r.method == "POST"]
    assert_valid_create_form(request.form)
    return request.form


def output(result: CliResult) -> dict[str, Any]:
    assert result.code == 0, result.err
    task: dict[str, Any] = result.json()["tasks"]["send"]
    return task


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- accepted: reaches the server once, encoded as Twilio expects ----------------------------


def test_a_messaging_service_sends_without_from(
    cli: Cli, tmp_path: Path, twilio_sandbox: Sandbox
) -> None:
    result = run_task(cli, tmp_path, {"To": TO, "MessagingServiceSid": SERVICE, "Body": "Hi"})
    message = output(result)
    assert sent_form(twilio_sandbox) == {
        "To": [TO],
        "MessagingServiceSid": [SERVICE],
        "Body": ["Hi"],
    }
    assert (message["from"], message["messagingServiceSid"]) == (None, SERVICE)


def test_two_media_urls_and_no_body_are_sent_as_a_repeated_key(
    cli: Cli, tmp_path: Path, twilio_sandbox: Sandbox
) -> None:
    urls = ["https://example.com/a.png", "https://example.com/b.jpg"]
    result = run_task(cli, tmp_path, {"To": TO, "From": FROM, "MediaUrl": urls})
    message = output(result)
    form = sent_form(twilio_sandbox)
    assert form["MediaUrl"] == urls
    assert "Body" not in form
    assert message["numMedia"] == "2"


def test_a_whatsapp_template_with_variables_as_an_object_is_sent_as_json(
    cli: Cli, tmp_path: Path, twilio_sandbox: Sandbox
) -> None:
    variables = {"1": "Jane", "2": "3pm, Friday"}
    parameters = {
        "To": "whatsapp:" + TO,
        "From": "whatsapp:" + FROM,
        "ContentSid": TEMPLATE,
        "ContentVariables": variables,
    }
    message = output(run_task(cli, tmp_path, parameters))
    form = sent_form(twilio_sandbox)
    assert form["ContentSid"] == [TEMPLATE]
    assert [json.loads(text) for text in form["ContentVariables"]] == [variables]
    assert (form["To"], form["From"]) == (["whatsapp:" + TO], ["whatsapp:" + FROM])
    assert message["from"] == {"rawNumber": "whatsapp:" + FROM}


def test_content_variables_given_as_json_text_are_sent_unchanged(
    cli: Cli, tmp_path: Path, twilio_sandbox: Sandbox
) -> None:
    text = '{"1": "Jane"}'
    parameters = {"To": TO, "From": FROM, "ContentSid": TEMPLATE, "ContentVariables": text}
    output(run_task(cli, tmp_path, parameters))
    assert sent_form(twilio_sandbox)["ContentVariables"] == [text]


def test_validity_period_status_callback_and_smart_encoding_are_sent_as_form_values(
    cli: Cli, tmp_path: Path, twilio_sandbox: Sandbox
) -> None:
    parameters = {
        "To": TO,
        "From": FROM,
        "Body": "Your code is 1234",
        "ValidityPeriod": 600,
        "StatusCallback": STATUS_URL,
        "SmartEncoded": True,
    }
    output(run_task(cli, tmp_path, parameters))
    form = sent_form(twilio_sandbox)
    assert form["ValidityPeriod"] == ["600"]
    assert form["StatusCallback"] == [STATUS_URL]
    assert form["SmartEncoded"] == ["true"]


def test_send_at_an_hour_ahead_is_sent_in_utc_with_schedule_type_fixed(
    cli: Cli, tmp_path: Path, twilio_sandbox: Sandbox
) -> None:
    when = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    local = when.astimezone(timezone(timedelta(hours=2)))  # given with an offset, sent in UTC
    parameters = {
        "To": TO,
        "MessagingServiceSid": SERVICE,
        "Body": "Reminder",
        "SendAt": local.isoformat(),
    }
    message = output(run_task(cli, tmp_path, parameters))
    form = sent_form(twilio_sandbox)
    assert form["SendAt"] == [utc(when)]
    assert form["ScheduleType"] == ["fixed"]
    assert message["status"] == "scheduled"


def test_false_booleans_are_sent_as_false_and_absent_values_are_left_out(
    cli: Cli, tmp_path: Path, twilio_sandbox: Sandbox
) -> None:
    parameters = {"To": TO, "From": FROM, "Body": "Hi", "ShortenUrls": False, "SendAsMms": False}
    output(run_task(cli, tmp_path, parameters))
    assert sent_form(twilio_sandbox) == {
        "To": [TO],
        "From": [FROM],
        "Body": ["Hi"],
        "ShortenUrls": ["false"],
        "SendAsMms": ["false"],
    }


def test_whole_number_floats_are_sent_as_integers(
    cli: Cli, tmp_path: Path, twilio_sandbox: Sandbox
) -> None:
    parameters = {"To": TO, "From": FROM, "Body": "Hi", "ValidityPeriod": 600.0, "Attempt": 2.0}
    output(run_task(cli, tmp_path, parameters))
    form = sent_form(twilio_sandbox)
    assert (form["ValidityPeriod"], form["Attempt"]) == (["600"], ["2"])


def test_every_option_at_once_is_valid_for_twilio(host: Host, twilio_sandbox: Sandbox) -> None:
    parameters: dict[str, Any] = {
        "To": TO,
        "From": FROM,
        "MessagingServiceSid": SERVICE,
        "Body": "Everything, at once",
        "MediaUrl": ["https://example.com/a.png"],
        "ContentSid": TEMPLATE,
        "ContentVariables": {"1": "Jane"},
        "StatusCallback": STATUS_URL,
        "ApplicationSid": APPLICATION,
        "ValidityPeriod": 36000,
        "SendAt": utc(datetime.now(UTC) + timedelta(days=2)),
        "SmartEncoded": True,
        "ShortenUrls": True,
        "SendAsMms": True,
        "PersistentAction": ["geo:48.8584,2.2945|Meet here", "mailto:hello@example.com"],
        "ContentRetention": "discard",
        "AddressRetention": "obfuscate",
        "RiskCheck": "disable",
        "ProvideFeedback": True,
        "Attempt": 2,
        "ForceDelivery": False,
        "TrafficType": "free",
        "FallbackFrom": FROM,
    }
    host.execute(
        {"type": "twilio/v1/sendMessage", "parameters": parameters},
        connection=(twilio_sandbox.connection),
    )
    form = sent_form(twilio_sandbox)
    spec_names = set(create_message_schema()["properties"])
    assert set(form) == spec_names - {"MaxPrice"}
    assert form["PersistentAction"] == parameters["PersistentAction"]
    assert form["Attempt"] == ["2"]


def test_send_with_action_takes_repeated_params_as_a_list(
    cli: Cli, twilio_sandbox: Sandbox
) -> None:
    result = cli(
        "send",
        "--action",
        "sendMessage",
        "--to",
        TO,
        "--param",
        f"MessagingServiceSid={SERVICE}",
        "--param",
        "MediaUrl=https://example.com/a.png",
        "--param",
        "MediaUrl=https://example.com/b.png",
        "--param",
        "ValidityPeriod=60",
    )
    assert result.code == 0, result.err
    form = sent_form(twilio_sandbox)
    assert form["MediaUrl"] == ["https://example.com/a.png", "https://example.com/b.png"]
    assert form["ValidityPeriod"] == ["60"]


# -- refused: exit 2, a reason that says how to fix it, nothing sent -------------------------

BASE: dict[str, Any] = {"To": TO, "From": FROM, "Body": "Hi"}


def days_ahead(days: float) -> str:
    return utc(datetime.now(UTC) + timedelta(days=days))


REFUSED: list[Any] = [
    pytest.param(
        {"To": TO, "Body": "Hi"},
        "From: a sender is needed",
        "MessagingServiceSid",
        id="neither-from-nor-messaging-service",
    ),
    pytest.param(
        {"To": TO, "From": FROM},
        "Body: the message has no content",
        "ContentSid",
        id="no-body-media-or-content",
    ),
    pytest.param(
        {**BASE, "MediaUrl": [f"https://example.com/{i}.png" for i in range(11)]},
        "MediaUrl: holds more than 10 URLs",
        "remove some",
        id="eleven-media-urls",
    ),
    pytest.param(
        {**BASE, "ValidityPeriod": 0},
        "ValidityPeriod: 0 is out of range",
        "from 1 to 36000",
        id="validity-period-0",
    ),
    pytest.param(
        {"To": TO, "From": FROM, "ContentSid": TEMPLATE, "ContentVariables": "{name: Jane}"},
        "ContentVariables: is not valid JSON",
        '{"1": "Jane"}',
        id="content-variables-not-json",
    ),
    pytest.param(
        {**BASE, "StatusCallback": "example.com/status"},
        "StatusCallback: 'example.com/status' is not a URL Twilio can call",
        "https://",
        id="status-callback-not-a-url",
    ),
    pytest.param(
        {"To": TO, "MessagingServiceSid": SERVICE, "Body": "Hi", "SendAt": days_ahead(2 / 1440)},
        "SendAt: ",
        "more than 300 seconds",
        id="send-at-two-minutes-ahead",
    ),
    pytest.param(
        {"To": TO, "MessagingServiceSid": SERVICE, "Body": "Hi", "SendAt": days_ahead(40)},
        "SendAt: ",
        "at most 35 days",
        id="send-at-forty-days-ahead",
    ),
    pytest.param(
        {**BASE, "SendAt": days_ahead(1)},
        "MessagingServiceSid: Twilio schedules messages only through a Messaging Service",
        "give MessagingServiceSid",
        id="send-at-without-messaging-service",
    ),
    pytest.param(
        {"To": "whatsapp:" + TO, "From": FROM, "Body": "Hi"},
        "From: is a plain number (SMS or MMS) but To is a whatsapp: address",
        "both whatsapp:",
        id="whatsapp-to-with-sms-from",
    ),
    pytest.param(
        {**BASE, "Colour": "blue"},
        "Colour: is not a parameter of sendMessage",
        "known: To, From",
        id="unknown-parameter",
    ),
]


@pytest.mark.parametrize(("parameters", "problem", "fix"), REFUSED)
def test_invalid_parameters_exit_2_with_a_reason_and_send_nothing(
    run: Callable[[dict[str, Any]], CliResult],
    twilio_sandbox: Sandbox,
    parameters: dict[str, Any],
    problem: str,
    fix: str,
) -> None:
    result = run(parameters)
    assert result.code == 2, result.err
    lines = [line for line in result.err.splitlines() if line.startswith(problem)]
    assert lines, result.err
    assert fix in lines[0]
    assert "nothing was sent" in result.err
    assert twilio_sandbox.requests == []


def test_every_problem_of_a_step_is_reported_at_once(
    cli: Cli, tmp_path: Path, twilio_sandbox: Sandbox
) -> None:
    parameters = {
        "To": "whatsapp:" + TO,
        "From": FROM,
        "MediaUrl": ["ftp://example.com/a.png"],
        "ValidityPeriod": 36001,
        "SendAt": days_ahead(1),
        "ShortenUrls": True,
    }
    result = run_task(cli, tmp_path, parameters)
    assert result.code == 2
    named = {line.split(":", 1)[0] for line in result.err.splitlines()}
    assert {"From", "MessagingServiceSid", "MediaUrl[0]", "ValidityPeriod"} <= named
    assert twilio_sandbox.requests == []


def test_send_sms_is_unchanged_by_send_message(host: Host) -> None:
    step = {
        "type": "twilio/v1/sendSMS",
        "parameters": {"To": TO, "From": FROM, "Body": "Hi", "MediaUrl": ["https://e.com/a"]},
    }
    assert [(p.path, p.reason[:33]) for p in host.check_step(step)] == [
        ("MediaUrl", "is not a parameter of sendSMS (kn")
    ]
