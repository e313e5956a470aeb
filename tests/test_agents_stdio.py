"""``twilio-component mcp`` over stdio, seen by the official MCP Python client: the tools, their
schemas and hints, checked arguments, idempotency keys, the send cap and secrecy."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from conftest import FROM, TO, creates
from mcp_peers import Transcript, over_stdio, text

from twilio_component.cli import main
from twilio_component.describe import json_schemas
from twilio_component.host import Host
from twilio_component.sandbox import Sandbox

SMS = {"To": TO, "From": FROM, "Body": "Your table is ready"}


def sms(**changes: str) -> tuple[str, dict[str, str]]:
    return "twilio_sendSMS", {**SMS, **changes}


def test_lists_every_twilio_action_as_a_tool(sandbox_env: dict[str, str]) -> None:
    seen = over_stdio([], sandbox_env)
    with Host.load() as host:
        actions = [a.name for c in host.components for a in c.descriptor.actions]
    assert {"twilio_sendSMS", "twilio_sendMessage"} <= set(seen.tools)
    assert set(seen.tools) == {f"twilio_{action}" for action in actions}


def test_send_sms_input_schema_is_the_parameters_schema_plus_an_idempotency_key(
    sandbox_env: dict[str, str],
) -> None:
    schema = over_stdio([], sandbox_env).tools["twilio_sendSMS"].input_schema
    with Host.load() as host:
        described = json_schemas(host.components[0].descriptor)["actions"]["sendSMS"]
    expected = {k: v for k, v in described["parameters"].items() if k != "$schema"}
    assert set(schema["required"]) == {"To", "From", "Body"}
    assert schema["properties"].pop("idempotencyKey")["type"] == "string"
    assert schema == expected


def test_output_schema_is_the_actions_output_schema(sandbox_env: dict[str, str]) -> None:
    tool = over_stdio([], sandbox_env).tools["twilio_sendSMS"]
    assert tool.output_schema is not None
    assert "sid" in tool.output_schema["properties"]


def test_parameter_descriptions_come_from_the_descriptor(sandbox_env: dict[str, str]) -> None:
    tool = over_stdio([], sandbox_env).tools["twilio_makeCall"]
    assert "E.164" in tool.input_schema["properties"]["To"]["description"]
    assert tool.description
    assert "call" in tool.description.lower()


def test_a_send_is_not_destructive_open_world_and_idempotent_with_a_journal(
    sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    seen = over_stdio(["--journal", str(tmp_path / "agent.db")], sandbox_env)
    hints = seen.tools["twilio_sendSMS"].annotations
    assert hints is not None
    assert (hints.read_only_hint, hints.destructive_hint) == (False, False)
    assert (hints.open_world_hint, hints.idempotent_hint) == (True, True)


def test_a_send_is_not_idempotent_without_a_journal(sandbox_env: dict[str, str]) -> None:
    hints = over_stdio([], sandbox_env).tools["twilio_sendSMS"].annotations
    assert hints is not None
    assert hints.idempotent_hint is False


def test_read_actions_are_read_only_and_ending_a_call_is_destructive(
    sandbox_env: dict[str, str],
) -> None:
    tools = over_stdio([], sandbox_env).tools
    for name in ("twilio_getMessage", "twilio_listMessages", "twilio_lookupPhoneNumber"):
        hints = tools[name].annotations
        assert hints is not None
        assert hints.read_only_hint is True, name
        assert "idempotencyKey" not in tools[name].input_schema["properties"]
    update = tools["twilio_updateCall"].annotations
    assert update is not None
    assert update.destructive_hint is True


def test_a_send_returns_the_output_object_as_structured_content(
    sandbox_env: dict[str, str], twilio_sandbox: Sandbox
) -> None:
    result = over_stdio([], sandbox_env, [sms()]).results[0]
    assert not result.is_error
    sid = result.structured_content["sid"]
    assert sid.startswith("SM")
    assert json.loads(text(result))["sid"] == sid
    assert [m["sid"] for m in twilio_sandbox.messages] == [sid]


def test_invalid_arguments_are_a_tool_error_naming_each_field_and_nothing_is_sent(
    sandbox_env: dict[str, str], twilio_sandbox: Sandbox
) -> None:
    result = over_stdio([], sandbox_env, [("twilio_sendSMS", {"To": "5550100", "From": FROM})])
    error = result.results[0]
    assert error.is_error
    said = text(error)
    assert "To:" in said
    assert "Body: is required" in said
    assert "nothing was sent" in said
    assert creates(twilio_sandbox) == 0


def test_the_same_idempotency_key_twice_sends_once_and_returns_the_same_sid(
    sandbox_env: dict[str, str], twilio_sandbox: Sandbox, tmp_path: Path
) -> None:
    call = sms(idempotencyKey="order-1234-ready")
    seen = over_stdio(["--journal", str(tmp_path / "agent.db")], sandbox_env, [call, call])
    first, again = (result.structured_content["sid"] for result in seen.results)
    assert first == again
    assert len(twilio_sandbox.messages) == 1


def test_an_idempotency_key_outlives_the_server_with_a_journal(
    sandbox_env: dict[str, str], twilio_sandbox: Sandbox, tmp_path: Path
) -> None:
    journal = ["--journal", str(tmp_path / "agent.db")]
    call = sms(idempotencyKey="k-restart")
    first = over_stdio(journal, sandbox_env, [call]).results[0].structured_content["sid"]
    again = over_stdio(journal, sandbox_env, [call]).results[0].structured_content["sid"]
    assert first == again
    assert len(twilio_sandbox.messages) == 1


def test_without_a_journal_a_key_still_holds_for_the_life_of_the_server(
    sandbox_env: dict[str, str], twilio_sandbox: Sandbox
) -> None:
    call = sms(idempotencyKey="k-life")
    seen = over_stdio([], sandbox_env, [call, call])
    assert len({r.structured_content["sid"] for r in seen.results}) == 1
    assert len(twilio_sandbox.messages) == 1


def test_a_key_reused_with_other_arguments_is_refused_and_nothing_more_is_sent(
    sandbox_env: dict[str, str], twilio_sandbox: Sandbox, tmp_path: Path
) -> None:
    calls = [sms(idempotencyKey="k1"), sms(idempotencyKey="k1", Body="something else")]
    seen = over_stdio(["--journal", str(tmp_path / "a.db")], sandbox_env, calls)
    assert not seen.results[0].is_error
    assert seen.results[1].is_error
    assert "nothing was sent" in text(seen.results[1])
    assert len(twilio_sandbox.messages) == 1


def test_the_fourth_send_past_max_sends_3_is_a_tool_error_and_not_sent(
    sandbox_env: dict[str, str], twilio_sandbox: Sandbox
) -> None:
    calls = [sms(Body=f"message {n}") for n in range(4)]
    seen = over_stdio(["--max-sends", "3"], sandbox_env, calls)
    assert [r.is_error for r in seen.results] == [False, False, False, True]
    assert "--max-sends" in text(seen.results[3])
    assert len(twilio_sandbox.messages) == 3


def test_refused_arguments_and_replayed_keys_do_not_use_up_the_cap(
    sandbox_env: dict[str, str], twilio_sandbox: Sandbox
) -> None:
    calls = [
        ("twilio_sendSMS", {"To": "nobody"}),
        sms(idempotencyKey="once"),
        sms(idempotencyKey="once"),
        sms(Body="the second real send"),
    ]
    seen = over_stdio(["--max-sends", "2"], sandbox_env, calls)
    assert [r.is_error for r in seen.results] == [True, False, False, False]
    assert len(twilio_sandbox.messages) == 2


def test_read_only_tools_are_not_counted_as_sends(
    sandbox_env: dict[str, str], twilio_sandbox: Sandbox
) -> None:
    lookups = [("twilio_lookupPhoneNumber", {"PhoneNumber": "+14158675309"})] * 3
    seen = over_stdio(["--max-sends", "1"], sandbox_env, [*lookups, sms()])
    assert not any(r.is_error for r in seen.results)
    assert seen.results[0].structured_content["valid"] is True


def test_tools_limits_what_is_exposed(sandbox_env: dict[str, str]) -> None:
    seen = over_stdio(["--tools", "twilio_getMessage,twilio_sendSMS"], sandbox_env)
    assert set(seen.tools) == {"twilio_getMessage", "twilio_sendSMS"}


def test_the_auth_token_appears_nowhere(
    sandbox_env: dict[str, str], twilio_sandbox: Sandbox, tmp_path: Path
) -> None:
    calls = [
        sms(),
        ("twilio_sendSMS", {"To": "bad"}),
        sms(To="+15005550001"),  # the magic invalid number: Twilio's refusal
        ("twilio_getMessage", {"Sid": "SM" + "0" * 32}),
    ]
    seen: Transcript = over_stdio(["--journal", str(tmp_path / "a.db")], sandbox_env, calls)
    assert [r.is_error for r in seen.results] == [False, True, True, True]
    assert twilio_sandbox.auth_token not in seen.everything()
    assert twilio_sandbox.auth_token not in "".join(p.name for p in tmp_path.iterdir())


def test_the_embedded_sandbox_needs_no_credentials() -> None:
    seen = over_stdio(["--sandbox"], {}, [sms()])
    assert seen.results[0].structured_content["sid"].startswith("SM")
    assert "nothing reached a real phone" in seen.stderr


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--tools", "twilio_sendFax"], "--tools"),
        (["--tools", ","], "--tools"),
        (["--max-sends", "-1"], "--max-sends"),
        (["--max-sends", "many"], "--max-sends"),
        (["--http", "localhost:http"], "--http"),
        (["--http", "127.0.0.1:0"], "TWILIO_COMPONENT_MCP_TOKEN"),
    ],
)
def test_a_bad_flag_is_exit_2_naming_it(argv: list[str], named: str) -> None:
    err = io.StringIO()
    code = main(["mcp", "--sandbox", *argv], environ={}, stdout=io.StringIO(), stderr=err)
    assert code == 2
    assert named in err.getvalue()
