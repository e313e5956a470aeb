"""The pluggy host: discovery through entry points, registration, unknown types, sharing."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import pytest
import yaml
from conftest import TO, creates, sms_step

from twilio_component.component import Component, Invocation
from twilio_component.descriptor import parse_descriptor
from twilio_component.errors import ComponentError, ParameterError, StepError
from twilio_component.hookspecs import ENTRY_POINT_GROUP, hookimpl
from twilio_component.host import Host
from twilio_component.resources import read_text
from twilio_component.sandbox import Sandbox
from twilio_component.twilio.output import SHAPES
from twilio_component.twilio.triggers import TRIGGER_SHAPES


def test_twilio_component_is_registered_through_the_entry_point_group() -> None:
    names = {ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert "twilio_component.twilio.plugin" in names
    assert "twilio/v1/sendSMS" in Host.load().step_types


def test_without_entry_points_nothing_is_registered() -> None:
    assert Host.load(entry_points=False).step_types == ()


class EchoPlugin:
    """A throwaway third-party component: echo/v1/say returns its parameters."""

    @hookimpl
    def register_components(self, register: Callable[[Component], None]) -> None:
        data: dict[str, Any] = copy.deepcopy(yaml.safe_load(read_text("component.yaml")))
        data["name"] = "echo"
        data["actions"] = [{**data["actions"][0], "name": "say", "rules": []}]
        data.pop("triggers", None)

        def say(invocation: Invocation) -> dict[str, Any]:
            return {"said": dict(invocation.parameters)}

        register(Component(parse_descriptor(data), handlers={"say": say}, shapes=SHAPES))


def test_a_third_party_plugin_registers_through_the_same_hook() -> None:
    host = Host.load(plugins=[EchoPlugin()])
    assert {"twilio/v1/sendSMS", "echo/v1/say"} <= set(host.step_types)
    step = {"type": "echo/v1/say", "parameters": {"To": TO, "From": "+15005550006", "Body": "hi"}}
    output = host.execute(step, connection={"username": "AC" + "a" * 32, "password": "p"})
    assert output == {"said": step["parameters"]}


@pytest.mark.parametrize(
    ("step_type", "reason"),
    [
        ("twilio/v1/sendFax", "has no action 'sendFax'"),
        ("twilio/v2/sendSMS", "version of 'twilio' that is not installed"),
        ("slack/v1/post", "no installed component 'slack'"),
        ("sendSMS", "not of the form component/vVERSION/action"),
    ],
)
def test_unknown_step_types_say_why_and_list_what_is_available(step_type: str, reason: str) -> None:
    with pytest.raises(StepError) as caught:
        Host.load().execute({"type": step_type, "parameters": {}}, connection={})
    assert reason in str(caught.value)
    assert "available: twilio/v1/sendSMS" in str(caught.value)


def test_parameters_are_checked_before_the_connection(twilio_sandbox: Sandbox, host: Host) -> None:
    with pytest.raises(ParameterError):
        host.execute(sms_step(To="12345"), connection={})
    assert twilio_sandbox.requests == []


def test_a_component_without_a_handler_for_an_action_is_refused() -> None:
    descriptor = parse_descriptor(yaml.safe_load(read_text("component.yaml")))
    with pytest.raises(ComponentError, match="no handler for action"):
        Host([Component(descriptor, handlers={})])


def test_a_component_with_a_rule_nothing_checks_is_refused() -> None:
    descriptor = parse_descriptor(yaml.safe_load(read_text("component.yaml")))

    def handler(invocation: Invocation) -> dict[str, Any]:
        return {}

    handlers = {action.name: handler for action in descriptor.actions}
    with pytest.raises(ComponentError, match="rule that nothing checks"):
        Host([Component(descriptor, handlers=handlers, shapes=SHAPES | TRIGGER_SHAPES)])


def test_one_host_is_safe_to_share_between_threads(host: Host, twilio_sandbox: Sandbox) -> None:
    sids: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def send(worker: int) -> None:
        try:
            for i in range(10):
                out = host.execute(
                    sms_step(Body=f"{worker}-{i}"), connection=twilio_sandbox.connection
                )
                with lock:
                    sids.append(out["sid"])
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(sids)) == 80
    assert creates(twilio_sandbox) == 80


def test_host_gives_each_component_its_palette_entry() -> None:
    entries = Host.load(plugins=[EchoPlugin()]).palette()
    assert sorted((e["name"], e["version"]) for e in entries) == [("echo", 1), ("twilio", 1)]
    assert all(e["icon"].startswith("<svg") for e in entries)
