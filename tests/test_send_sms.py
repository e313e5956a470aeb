"""Sending an SMS as a twilio/v1/sendSMS step, from Python and from the shell, end to end."""

from __future__ import annotations

import re

from conftest import FROM, TO, Cli, creates, sms_step
from openapi import assert_valid_create_form

from twilio_component.host import Host
from twilio_component.sandbox import Sandbox


def test_execute_returns_documented_output_object(host: Host, twilio_sandbox: Sandbox) -> None:
    output = host.execute(sms_step(Body="Hi"), connection=twilio_sandbox.connection)
    assert list(output) == [
        "body",
        "numSegments",
        "direction",
        "from",
        "to",
        "dateUpdated",
        "price",
        "errorMessage",
        "uri",
        "accountSid",
        "numMedia",
        "status",
        "messagingServiceSid",
        "sid",
        "dateSent",
        "dateCreated",
        "errorCode",
        "currency",
        "apiVersion",
        "subresourceUris",
    ]
    assert re.fullmatch(r"SM[0-9a-f]{32}", output["sid"])
    assert output["from"] == {"rawNumber": FROM}
    assert output["to"] == TO
    assert output["body"] == "Hi"
    assert output["accountSid"] == twilio_sandbox.account_sid


def test_cli_send_makes_exactly_one_form_post_with_to_from_body(
    cli: Cli, twilio_sandbox: Sandbox
) -> None:
    result = cli("send", "--to", TO, "--from", FROM, "--body", "Hello")
    assert result.code == 0, result.err
    assert len(twilio_sandbox.requests) == 1
    request = twilio_sandbox.requests[0]
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{twilio_sandbox.account_sid}/Messages.json"
    assert request.auth_username == twilio_sandbox.account_sid
    assert request.form == {"To": [TO], "From": [FROM], "Body": ["Hello"]}
    assert_valid_create_form(request.form)


def test_cli_prints_the_same_object_as_host_execute(
    cli: Cli, host: Host, twilio_sandbox: Sandbox
) -> None:
    printed = cli("send", "--to", TO, "--from", FROM, "--body", "same").json()
    returned = host.execute(sms_step(Body="same"), connection=twilio_sandbox.connection)
    differing = {
        "sid",
        "uri",
        "subresourceUris",
        "dateCreated",
        "dateUpdated",
        "dateSent",
        "status",
        "price",
    }
    assert list(printed) == list(returned)
    assert {k: v for k, v in printed.items() if k not in differing} == {
        k: v for k, v in returned.items() if k not in differing
    }
    assert printed["sid"] != returned["sid"]


def test_invalid_parameters_exit_2_name_every_problem_and_send_nothing(
    cli: Cli, twilio_sandbox: Sandbox
) -> None:
    result = cli("send", "--to", "12345", "--body", "x" * 1601, "--param", "Colour=red")
    assert result.code == 2
    lines = result.err.splitlines()
    assert any(line.startswith("To: '12345'") for line in lines)
    assert any(line.startswith("From: is required") for line in lines)
    assert any(line.startswith("Body: is 1601 characters long") for line in lines)
    assert any(line.startswith("Colour: is not a parameter of sendSMS") for line in lines)
    assert twilio_sandbox.requests == []


def test_malformed_account_sid_exits_2_and_sends_nothing(
    cli: Cli, twilio_sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    env = {**sandbox_env, "TWILIO_ACCOUNT_SID": "AC123/../../evil"}
    result = cli("send", "--to", TO, "--from", FROM, "--body", "x", env=env)
    assert result.code == 2
    assert "TWILIO_ACCOUNT_SID (username): is not an Account SID" in result.err
    assert twilio_sandbox.requests == []


def test_twilio_400_exits_3_with_code_and_message(cli: Cli) -> None:
    result = cli("send", "--to", "+15005550002", "--from", FROM, "--body", "x")
    assert result.code == 3
    assert "21612" in result.err


def test_wrong_token_exits_3_without_showing_the_token(
    cli: Cli, twilio_sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    token = "wrong-token-canary-7f3a"
    result = cli(
        "send",
        "--to",
        TO,
        "--from",
        FROM,
        "--body",
        "x",
        env={**sandbox_env, "TWILIO_AUTH_TOKEN": token},
    )
    assert result.code == 3
    assert "20003" in result.err
    assert token not in result.err + result.out
    assert twilio_sandbox.messages == []


def test_missing_credentials_exit_2_and_say_what_to_set(cli: Cli) -> None:
    result = cli("send", "--to", TO, "--from", FROM, "--body", "x", env={})
    assert result.code == 2
    assert "TWILIO_ACCOUNT_SID" in result.err
    assert "--sandbox" in result.err


def test_sandbox_flag_needs_no_credentials(cli: Cli) -> None:
    result = cli("send", "--sandbox", "--to", TO, "--from", FROM, "--body", "offline", env={})
    assert result.code == 0, result.err
    assert result.json()["body"] == "offline"
    assert "nothing reached a real phone" in result.err


def test_form_body_is_urlencoded_once(twilio_sandbox: Sandbox, host: Host) -> None:
    body = "a&b=c+d %26 ünïcode 👍"
    host.execute(sms_step(Body=body), connection=twilio_sandbox.connection)
    assert twilio_sandbox.requests[0].form["Body"] == [body]
    assert creates(twilio_sandbox) == 1
