"""A component from another package works through public names only."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from twilio_component import ActionError, Host, ParameterError
from twilio_component.describe import render
from twilio_component.sandbox import Sandbox
from twilio_component.twilio.settings import Settings

sys.path.insert(0, str(Path(__file__).parent / "acme"))
import acme_component.plugin as acme

TOKEN = "acme-token-123456"


@pytest.fixture
def host(twilio_sandbox: Sandbox) -> Iterator[Host]:
    with Host.load(Settings(base_url=twilio_sandbox.base_url), plugins=[acme]) as loaded:
        yield loaded


def ping(text: str, channel: str = "#general") -> dict[str, Any]:
    return {"type": "acme/v1/ping", "parameters": {"channel": channel, "text": text}}


def test_its_step_runs_through_the_host(host: Host) -> None:
    assert host.execute(ping("hello"), connection={"token": TOKEN}) == {"posted": "#general: hello"}


def test_its_own_rule_is_enforced(host: Host) -> None:
    with pytest.raises(ParameterError) as caught:
        host.execute(ping("HELLO"), connection={"token": TOKEN})
    assert [str(p) for p in caught.value.problems] == ["text: must not be all capitals"]


def test_its_icon_is_read_from_its_own_package_beside_twilios(host: Host) -> None:
    icons = {entry["name"]: entry["icon"] for entry in host.palette()}
    assert 'id="acme"' in icons["acme"]
    assert "<svg" in icons["twilio"]
    entry = render("palette", host, component="acme")
    assert isinstance(entry, dict)
    assert entry["icon"] == icons["acme"]


def test_a_handler_failure_names_the_plugin_and_step_and_hides_the_secret(host: Host) -> None:
    with pytest.raises(ActionError) as caught:
        host.execute(ping("hi", channel="#broken"), connection={"token": TOKEN})
    assert caught.value.step_type == "acme/v1/ping"
    assert "acme_component.plugin" in caught.value.plugin
    assert TOKEN not in str(caught.value)


def test_a_workflow_gives_each_component_its_own_connection(
    host: Host, twilio_sandbox: Sandbox
) -> None:
    workflow = {
        "tasks": [
            {
                "name": "sms",
                "type": "twilio/v1/sendSMS",
                "parameters": {"To": "+15558675310", "From": "+15005550006", "Body": "hi"},
            },
            {"name": "chat", **ping("sent ${sms.sid}")},
        ]
    }
    run = host.run(
        workflow,
        connections={"twilio": dict(twilio_sandbox.connection), "acme/v1": {"token": TOKEN}},
    )
    assert run.tasks["chat"]["posted"] == f"#general: sent {run.tasks['sms']['sid']}"


def test_a_misspelt_hook_is_refused_naming_the_plugin() -> None:
    from twilio_component import ComponentError, hookimpl

    class Misspelt:
        @hookimpl
        def register_component(self, register: Any) -> None:
            """Not a hook of ours."""

    with pytest.raises(ComponentError, match="Misspelt"):
        Host.load(plugins=[Misspelt()], entry_points=False)
