"""The api_key authorization: Basic auth with an API key and its secret, never shown."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from conftest import FROM, TO, Cli, CliResult, sms_step

from twilio_component.errors import ConnectionConfigError
from twilio_component.host import Host
from twilio_component.sandbox import Sandbox

KEY = "SK" + "5e" * 16
SECRET = "api-secret-canary-8d41c07b9f2e4a63"
SEND_MESSAGE = {
    "type": "twilio/v1/sendMessage",
    "parameters": {"To": TO, "From": FROM, "Body": "Signed with a key"},
}


@pytest.fixture
def keyed(twilio_sandbox: Sandbox) -> Sandbox:
    """The sandbox, also accepting the API key KEY with SECRET."""
    twilio_sandbox.add_api_key(KEY, SECRET)
    return twilio_sandbox


def key_env(sandbox: Sandbox, **changes: str) -> dict[str, str]:
    """The environment of a user with an API key and no Auth Token."""
    env = {
        "TWILIO_ACCOUNT_SID": sandbox.account_sid,
        "TWILIO_API_KEY": KEY,
        "TWILIO_API_SECRET": SECRET,
        "TWILIO_API_BASE_URL": sandbox.base_url,
    }
    env.update(changes)
    return env


def key_connection(sandbox: Sandbox, **changes: Any) -> dict[str, Any]:
    connection = {"accountSid": sandbox.account_sid, "apiKeySid": KEY, "apiKeySecret": SECRET}
    connection.update(changes)
    return connection


def assert_secret_never_shown(result: CliResult) -> None:
    basic = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    for text in (result.out, result.err):
        assert SECRET not in text
        assert basic not in text


def send(cli: Cli, env: dict[str, str], *extra: str) -> CliResult:
    return cli("send", "--to", TO, "--from", FROM, "--body", "Hi", *extra, env=env)


# -- command line ------------------------------------------------------------------------------


def test_the_cli_authenticates_with_the_api_key_when_no_auth_token_is_set(
    cli: Cli, keyed: Sandbox
) -> None:
    result = send(cli, key_env(keyed))
    assert result.code == 0, result.err
    request = keyed.requests[-1]
    assert request.auth_username == KEY
    assert request.path == f"/2010-04-01/Accounts/{keyed.account_sid}/Messages.json"
    assert result.json()["accountSid"] == keyed.account_sid
    assert_secret_never_shown(result)


def test_send_message_runs_with_the_api_key(cli: Cli, keyed: Sandbox) -> None:
    result = send(cli, key_env(keyed), "--action", "sendMessage", "--param", "SmartEncoded=true")
    assert result.code == 0, result.err
    assert keyed.requests[-1].auth_username == KEY
    assert keyed.requests[-1].form["SmartEncoded"] == ["true"]


def test_an_auth_token_beside_an_api_key_is_refused_not_chosen(cli: Cli, keyed: Sandbox) -> None:
    result = send(cli, key_env(keyed, TWILIO_AUTH_TOKEN=keyed.auth_token))
    assert result.code == 2, result.err
    assert "TWILIO_AUTH_TOKEN" in result.err
    assert keyed.requests == []


def test_a_wrong_secret_is_refused_by_twilio_without_showing_it(cli: Cli, keyed: Sandbox) -> None:
    wrong = SECRET + "-wrong"
    result = send(cli, key_env(keyed, TWILIO_API_SECRET=wrong))
    assert result.code == 3
    assert "20003" in result.err
    assert wrong not in result.out + result.err
    assert keyed.messages == []


def test_a_malformed_key_sid_exits_2_naming_it_and_sends_nothing(cli: Cli, keyed: Sandbox) -> None:
    result = send(cli, key_env(keyed, TWILIO_API_KEY="AK" + "5e" * 16))
    assert result.code == 2
    assert any(line.startswith("TWILIO_API_KEY (apiKeySid): ") for line in result.err.splitlines())
    assert "SK followed by 32 hexadecimal digits" in result.err
    assert keyed.requests == []
    assert_secret_never_shown(result)


@pytest.mark.parametrize("unset", ["TWILIO_API_SECRET", "TWILIO_API_KEY"])
def test_half_an_api_key_names_the_missing_variable(unset: str, cli: Cli, keyed: Sandbox) -> None:
    result = send(cli, key_env(keyed, **{unset: ""}))
    assert result.code == 2
    assert result.err.startswith(f"{unset}: is not set"), result.err
    assert keyed.requests == []
    assert_secret_never_shown(result)


def test_a_missing_account_sid_exits_2_and_shows_no_secret(cli: Cli, keyed: Sandbox) -> None:
    result = send(cli, key_env(keyed, TWILIO_ACCOUNT_SID=""))
    assert result.code == 2
    assert "accountSid" in result.err
    assert keyed.requests == []
    assert_secret_never_shown(result)


def test_the_secret_is_masked_even_when_a_parameter_echoes_it(cli: Cli, keyed: Sandbox) -> None:
    result = cli("send", "--to", SECRET, "--from", FROM, "--body", "Hi", env=key_env(keyed))
    assert result.code == 2
    assert "To: " in result.err
    assert_secret_never_shown(result)


# -- Python ------------------------------------------------------------------------------------


@pytest.fixture
def key_host(host: Host, keyed: Sandbox) -> Host:
    """The sandbox-bound host, once the sandbox accepts the API key."""
    return host


@pytest.mark.parametrize("named", [True, False], ids=["authorization-named", "picked-by-fields"])
def test_host_execute_with_an_api_key_connection(
    key_host: Host, keyed: Sandbox, named: bool
) -> None:
    connection = key_connection(keyed)
    if named:
        connection["authorization"] = "api_key"
    output = key_host.execute(SEND_MESSAGE, connection=connection)
    assert keyed.requests[-1].auth_username == KEY
    assert output["accountSid"] == keyed.account_sid
    assert output["body"] == "Signed with a key"


def test_send_sms_runs_with_an_api_key_connection_too(key_host: Host, keyed: Sandbox) -> None:
    key_host.execute(sms_step(), connection=key_connection(keyed))
    assert keyed.requests[-1].auth_username == KEY


def test_an_api_key_connection_without_its_secret_names_it(key_host: Host, keyed: Sandbox) -> None:
    connection = {"authorization": "api_key", "accountSid": keyed.account_sid, "apiKeySid": KEY}
    with pytest.raises(ConnectionConfigError) as caught:
        key_host.execute(SEND_MESSAGE, connection=connection)
    assert [p.path for p in caught.value.problems] == ["apiKeySecret"]
    assert keyed.requests == []


def test_connection_errors_never_carry_the_secret(key_host: Host, keyed: Sandbox) -> None:
    connection = key_connection(keyed, authorization="api_key", accountSid=SECRET, apiKeySid=SECRET)
    with pytest.raises(ConnectionConfigError) as caught:
        key_host.execute(SEND_MESSAGE, connection=connection)
    assert {p.path for p in caught.value.problems} == {"accountSid", "apiKeySid"}
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value.problems)
