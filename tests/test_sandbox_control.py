"""Specification of the sandbox control API: auth, messages read-back, faults, latency, crowding."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from openapi import assert_valid_error

from twilio_component.sandbox import Sandbox

OWN = "+15005550006"
CALLER = "+15558675310"
OTHER = "+15558675311"
ISO_MILLIS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
ENDPOINTS = [
    ("POST", "/_sandbox/inbound"),
    ("GET", "/_sandbox/messages"),
    ("DELETE", "/_sandbox/messages"),
    ("GET", "/_sandbox/faults"),
    ("POST", "/_sandbox/faults"),
    ("DELETE", "/_sandbox/faults"),
    ("GET", "/_sandbox/deliveries"),
]


class Control:
    """Authenticated requests to one sandbox's control API and its Messages API."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.session = requests.Session()
        self.session.auth = (sandbox.account_sid, sandbox.auth_token)
        self.messages_url = (
            f"{sandbox.base_url}/2010-04-01/Accounts/{sandbox.account_sid}/Messages.json"
        )

    def call(self, method: str, path: str, payload: Any = None) -> requests.Response:
        url = f"{self.sandbox.base_url}/_sandbox/{path}"
        return self.session.request(method, url, json=payload, timeout=10)

    def arm(self, **fault: Any) -> requests.Response:
        response = self.call("POST", "faults", fault)
        assert response.status_code == 201, response.text
        return response

    def send(self, to: str = CALLER, body: str = "Hello") -> requests.Response:
        form = {"To": to, "From": OWN, "Body": body}
        return self.session.post(self.messages_url, data=form, timeout=10)

    def listed(self) -> list[dict[str, Any]]:
        response = self.session.get(self.messages_url, timeout=5)
        assert response.status_code == 200, response.text
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.fixture
def control(sandbox: Sandbox) -> Control:
    return Control(sandbox)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_control_api_answers_401_in_json_without_credentials(
    sandbox: Sandbox, method: str, path: str
) -> None:
    response = requests.request(method, f"{sandbox.base_url}{path}", json={}, timeout=5)
    assert response.status_code == 401
    assert "error" in response.json()
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_control_api_answers_401_to_a_wrong_auth_token(sandbox: Sandbox) -> None:
    response = requests.get(
        f"{sandbox.base_url}/_sandbox/messages",
        auth=(sandbox.account_sid, "not-the-token"),
        timeout=5,
    )
    assert response.status_code == 401


def test_unauthenticated_inbound_stores_nothing(sandbox: Sandbox) -> None:
    payload = {"From": CALLER, "To": OWN, "Body": "Sneaky"}
    requests.post(f"{sandbox.base_url}/_sandbox/inbound", json=payload, timeout=5)
    assert sandbox.messages == []


def test_unknown_control_endpoint_is_404_in_json(control: Control) -> None:
    response = control.call("GET", "nothing-here")
    assert response.status_code == 404
    assert "no such control endpoint" in response.json()["error"]


def test_wrong_method_on_a_control_endpoint_is_405(control: Control) -> None:
    response = control.call("PUT", "messages")
    assert response.status_code == 405
    assert "GET/DELETE" in response.json()["error"]


def test_messages_read_back_oldest_first_with_both_directions(
    sandbox: Sandbox, control: Control
) -> None:
    sent = control.send(body="Out").json()["sid"]
    received = control.call("POST", "inbound", {"From": CALLER, "To": OWN, "Body": "In"})
    messages = control.call("GET", "messages").json()["messages"]
    assert [(m["sid"], m["direction"]) for m in messages] == [
        (sent, "outbound-api"),
        (received.json()["sid"], "inbound"),
    ]


def test_messages_read_back_carry_created_at_in_utc_milliseconds(
    sandbox: Sandbox, control: Control
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    control.send()
    [message] = control.call("GET", "messages").json()["messages"]
    assert ISO_MILLIS.fullmatch(message["created_at"])
    created = datetime.fromisoformat(message["created_at"].replace("Z", "+00:00"))
    assert created >= before


def test_messages_read_back_carry_every_status_they_took(
    sandbox: Sandbox, control: Control
) -> None:
    control.send()
    sandbox.settle()
    control.call("POST", "inbound", {"From": CALLER, "To": OWN, "Body": "In"})
    outbound, inbound = control.call("GET", "messages").json()["messages"]
    history = outbound["status_history"]
    assert [step["status"] for step in history] == ["queued", "sending", "sent", "delivered"]
    assert all(ISO_MILLIS.fullmatch(step["at"]) for step in history)
    assert [step["at"] for step in history] == sorted(step["at"] for step in history)
    assert [step["status"] for step in inbound["status_history"]] == ["received"]


def test_delete_messages_clears_them_for_the_control_and_messages_apis(
    sandbox: Sandbox, control: Control
) -> None:
    control.send()
    control.call("POST", "inbound", {"From": CALLER, "To": OWN, "Body": "In"})
    response = control.call("DELETE", "messages")
    assert response.status_code == 204
    assert control.call("GET", "messages").json() == {"messages": []}
    assert control.listed() == []


def test_rate_limit_fault_answers_429_once_then_creates_normally(
    sandbox: Sandbox, control: Control
) -> None:
    control.arm(kind="rate_limit")
    refused = control.send()
    assert refused.status_code == 429
    assert refused.json()["code"] == 20429
    assert_valid_error(refused.json(), 429)
    assert sandbox.messages == []
    assert control.send().status_code == 201
    assert len(sandbox.messages) == 1


def test_fail_fault_answers_500_once_and_creates_nothing(
    sandbox: Sandbox, control: Control
) -> None:
    control.arm(kind="fail")
    failed = control.send()
    assert failed.status_code == 500
    assert_valid_error(failed.json(), 500)
    assert sandbox.messages == []
    assert control.send().status_code == 201


def test_fault_count_arms_that_many_creates(sandbox: Sandbox, control: Control) -> None:
    control.arm(kind="rate_limit", count=2)
    assert [control.send().status_code for _ in range(3)] == [429, 429, 201]


def test_armed_faults_are_listed_in_order(control: Control) -> None:
    control.arm(kind="rate_limit", count=2)
    control.arm(kind="fail")
    control.arm(kind="undelivered", to=OTHER)
    assert control.call("GET", "faults").json() == {
        "faults": [
            {"kind": "rate_limit", "count": 2},
            {"kind": "fail", "count": 1},
            {"kind": "undelivered", "to": OTHER, "error_code": 30003},
        ]
    }


def test_delete_faults_disarms_every_one(control: Control) -> None:
    control.arm(kind="rate_limit", count=5)
    control.arm(kind="undelivered", to=OTHER)
    assert control.call("DELETE", "faults").status_code == 204
    assert control.call("GET", "faults").json() == {"faults": []}
    assert control.send().status_code == 201


def test_undelivered_fault_makes_messages_to_that_recipient_end_undelivered(
    sandbox: Sandbox, control: Control
) -> None:
    control.arm(kind="undelivered", to=OTHER)
    failing = control.send(to=OTHER).json()["sid"]
    fine = control.send(to=CALLER).json()["sid"]
    sandbox.settle()
    failed = sandbox.message(failing)
    assert (failed["status"], failed["error_code"]) == ("undelivered", 30003)
    assert sandbox.message(fine)["status"] == "delivered"


def test_a_slow_fault_takes_its_seconds(control: Control) -> None:
    control.arm(kind="slow", seconds=0.2)
    started = time.monotonic()
    assert control.send().status_code == 201
    assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize(
    ("fault", "field"),
    [
        ({"kind": "meltdown"}, "kind"),
        ({"kind": "rate_limit", "count": 0}, "count"),
        ({"kind": "rate_limit", "to": OTHER}, "to"),
        ({"kind": "undelivered"}, "to"),
        ({"kind": "slow"}, "seconds"),
    ],
)
def test_a_bad_fault_is_refused_naming_the_field(
    control: Control, fault: dict[str, Any], field: str
) -> None:
    response = control.call("POST", "faults", fault)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert control.call("GET", "faults").json() == {"faults": []}


def test_latency_delays_every_api_answer() -> None:
    with Sandbox(latency=0.3) as sandbox:
        control = Control(sandbox)
        started = time.monotonic()
        assert control.send().status_code == 201
        assert control.listed()
        assert time.monotonic() - started >= 0.6


def test_latency_does_not_delay_the_control_api() -> None:
    with Sandbox(latency=5.0) as sandbox:
        started = time.monotonic()
        assert Control(sandbox).call("GET", "messages").status_code == 200
        assert time.monotonic() - started < 5.0


def test_a_create_past_max_concurrent_requests_answers_429_and_creates_nothing() -> None:
    with Sandbox(latency=1.0, max_concurrent=1) as sandbox:
        control = Control(sandbox)
        slow_list = threading.Thread(target=control.listed)
        slow_list.start()
        deadline = time.monotonic() + 10
        while sandbox.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        crowded = Control(sandbox).send()
        slow_list.join()
        assert crowded.status_code == 429
        assert crowded.json()["code"] == 20429
        assert sandbox.messages == []
        assert control.send().status_code == 201


def test_creates_within_max_concurrent_are_served() -> None:
    with Sandbox(max_concurrent=1) as sandbox:
        control = Control(sandbox)
        assert [control.send().status_code for _ in range(3)] == [201, 201, 201]


@pytest.mark.parametrize(
    "options", [{"latency": -1.0}, {"max_concurrent": 0}, {"max_concurrent": True}]
)
def test_the_sandbox_refuses_bad_latency_or_max_concurrent(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(options))):
        Sandbox(**options)
