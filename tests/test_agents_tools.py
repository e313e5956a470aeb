"""The agent tools in Python, without a transport: derived from the descriptor's schemas, and
called through the host's checks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import FROM, TO, creates
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twilio_component.agents import IDEMPOTENCY_KEY, Toolbox, select, tools_of
from twilio_component.describe import json_schemas
from twilio_component.host import Host
from twilio_component.sandbox import Sandbox
from twilio_component.twilio.settings import Settings


def toolbox(host: Host, sandbox: Sandbox, **options: Any) -> Toolbox:
    return Toolbox(
        host,
        tools_of(host, keyed=False),
        connection_of=lambda component: sandbox.connection,
        **options,
    )


def test_every_tool_schema_is_the_described_schema(host: Host) -> None:
    described = json_schemas(host.components[0].descriptor)["actions"]
    for tool in tools_of(host, keyed=False):
        action = described[tool.step_type.rsplit("/", 1)[1]]
        inputs = dict(tool.input_schema)
        properties = dict(inputs.pop("properties"))
        properties.pop(IDEMPOTENCY_KEY, None)
        expected = {k: v for k, v in action["parameters"].items() if k != "$schema"}
        assert {**inputs, "properties": properties} == expected, tool.name
        output = {k: v for k, v in action["output"].items() if k != "$schema"}
        assert tool.output_schema == output, tool.name


def test_a_key_without_a_journal_is_refused_and_nothing_is_sent(
    host: Host, twilio_sandbox: Sandbox
) -> None:
    arguments = {"To": TO, "From": FROM, "Body": "hi", IDEMPOTENCY_KEY: "k"}
    outcome = toolbox(host, twilio_sandbox).call("twilio_sendSMS", arguments)
    assert outcome.error is not None
    assert "needs a journal" in outcome.error
    assert creates(twilio_sandbox) == 0


@pytest.mark.parametrize("key", ["", "x" * 201, 7, "half a pair \ud800"])
def test_a_key_that_is_not_short_text_is_refused(
    host: Host, twilio_sandbox: Sandbox, key: object
) -> None:
    arguments = {"To": TO, "From": FROM, "Body": "hi", IDEMPOTENCY_KEY: key}
    outcome = toolbox(host, twilio_sandbox).call("twilio_sendSMS", arguments)
    assert outcome.error is not None
    assert IDEMPOTENCY_KEY in outcome.error
    assert creates(twilio_sandbox) == 0


def test_a_refusal_by_the_service_gives_the_send_back_to_the_cap(
    host: Host, twilio_sandbox: Sandbox
) -> None:
    box = toolbox(host, twilio_sandbox, max_sends=1)
    refused = box.call("twilio_sendSMS", {"To": "+15005550001", "From": FROM, "Body": "hi"})
    assert refused.error is not None
    assert "nothing was sent" in refused.error.lower()
    assert box.sends == 0
    sent = box.call("twilio_sendSMS", {"To": TO, "From": FROM, "Body": "hi"})
    assert sent.output is not None


def test_a_negative_cap_is_refused(host: Host, twilio_sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="max_sends"):
        toolbox(host, twilio_sandbox, max_sends=-1)


def test_selecting_an_unknown_tool_names_it_and_the_known_ones(host: Host) -> None:
    with pytest.raises(ValueError, match=r"'twilio_sendFax'.*twilio_sendSMS"):
        select(tools_of(host, keyed=False), ["twilio_sendFax"])


def keyed_toolbox(journal: Path, sandbox: Sandbox, **options: Any) -> Toolbox:
    settings = Settings(base_url=sandbox.base_url, journal=str(journal))
    host = Host.load(settings)
    return Toolbox(
        host,
        tools_of(host, keyed=True),
        connection_of=lambda component: sandbox.connection,
        **options,
    )


def test_calls_racing_on_one_key_send_once_and_count_once(
    twilio_sandbox: Sandbox, tmp_path: Path
) -> None:
    box = keyed_toolbox(tmp_path / "agent.db", twilio_sandbox, max_sends=2)
    arguments = {"To": TO, "From": FROM, "Body": "once", IDEMPOTENCY_KEY: "race"}
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda _: box.call("twilio_sendSMS", arguments), range(4)))
    assert all(o.output is not None for o in outcomes), [o.error for o in outcomes]
    assert len({o.output["sid"] for o in outcomes if o.output}) == 1
    assert len(twilio_sandbox.messages) == 1
    assert box.sends == 1
    other = box.call("twilio_sendSMS", {"To": TO, "From": FROM, "Body": "the second"})
    assert other.output is not None


def test_a_key_used_on_one_account_does_not_answer_for_another(
    twilio_sandbox: Sandbox, tmp_path: Path
) -> None:
    journal = tmp_path / "agent.db"
    arguments = {"To": TO, "From": FROM, "Body": "hi", IDEMPOTENCY_KEY: "shared-key"}
    first = keyed_toolbox(journal, twilio_sandbox).call("twilio_sendSMS", arguments)
    with Sandbox() as real_one:
        second = keyed_toolbox(journal, real_one).call("twilio_sendSMS", arguments)
        assert len(real_one.messages) == 1
    assert first.output is not None
    assert second.output is not None
    assert first.output["sid"] != second.output["sid"]


def test_past_the_cap_invalid_arguments_still_get_their_problems(
    host: Host, twilio_sandbox: Sandbox
) -> None:
    box = toolbox(host, twilio_sandbox, max_sends=1)
    assert box.call("twilio_sendSMS", {"To": TO, "From": FROM, "Body": "hi"}).output
    refused = box.call("twilio_sendSMS", {"To": "nobody", "From": FROM, "Body": "hi"})
    assert refused.error is not None
    assert "To:" in refused.error
    capped = box.call("twilio_sendSMS", {"To": TO, "From": FROM, "Body": "again"})
    assert capped.error is not None
    assert "--max-sends" in capped.error


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    arguments=st.dictionaries(
        st.sampled_from(["To", "From", "Body", IDEMPOTENCY_KEY, "MediaUrl", "extra"]), JSON
    )
)
def test_any_arguments_give_an_outcome_and_refusals_send_nothing(
    host: Host, twilio_sandbox: Sandbox, arguments: dict[str, Any]
) -> None:
    before = creates(twilio_sandbox)
    outcome = toolbox(host, twilio_sandbox).call("twilio_sendSMS", arguments)
    assert (outcome.output is None) != (outcome.error is None)
    if outcome.error is not None:
        assert "nothing was sent" in outcome.error.lower()
        assert creates(twilio_sandbox) == before
