"""Specification of the sandbox's injectable faults: each does what it says, then clears."""

from __future__ import annotations

import base64
import http.client
import json
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import pytest
from openapi import MESSAGES_PATH, assert_valid_error, assert_valid_response

from twilio_component.sandbox import Sandbox

FORM = urlencode({"To": "+15558675310", "From": "+15005550006", "Body": "Hello"})


class Raw:
    """One keep-alive http.client connection posting creates to a sandbox."""

    def __init__(self, sandbox: Sandbox, timeout: float = 5.0) -> None:
        parts = urlsplit(sandbox.base_url)
        self.connection = http.client.HTTPConnection(
            parts.hostname or "", parts.port, timeout=timeout
        )
        credentials = f"{sandbox.account_sid}:{sandbox.auth_token}".encode()
        self.headers = {
            "Authorization": "Basic " + base64.b64encode(credentials).decode(),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        self.path = f"/2010-04-01/Accounts/{sandbox.account_sid}/Messages.json"

    def create(self, form: str = FORM) -> http.client.HTTPResponse:
        self.connection.request("POST", self.path, body=form, headers=self.headers)
        response = self.connection.getresponse()
        response.read()
        return response

    def create_body(self) -> tuple[int, bytes, str]:
        self.connection.request("POST", self.path, body=FORM, headers=self.headers)
        response = self.connection.getresponse()
        return response.status, response.read(), response.getheader("Content-Type") or ""

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.fixture
def raw(sandbox: Sandbox) -> Iterator[Raw]:
    client = Raw(sandbox)
    yield client
    client.close()


def test_rate_limit_answers_429_and_creates_nothing(sandbox: Sandbox, raw: Raw) -> None:
    sandbox.faults.rate_limit(times=2)
    for _ in range(2):
        status, body, _ = raw.create_body()
        assert status == 429
        assert json.loads(body)["code"] == 20429
        assert_valid_error(json.loads(body), 429)
    assert sandbox.messages == []
    assert raw.create().status == 201
    assert len(sandbox.messages) == 1


def test_rate_limit_sends_retry_after_only_when_given(sandbox: Sandbox, raw: Raw) -> None:
    sandbox.faults.rate_limit()
    assert raw.create().getheader("Retry-After") is None
    sandbox.faults.rate_limit(retry_after=2)
    assert raw.create().getheader("Retry-After") == "2"


def test_error_after_create_creates_then_answers_5xx(sandbox: Sandbox, raw: Raw) -> None:
    sandbox.faults.error_after_create(status=503)
    status, body, content_type = raw.create_body()
    assert status == 503
    assert content_type.startswith("application/json")
    assert_valid_error(json.loads(body), 503)
    assert len(sandbox.messages) == 1


def test_drop_before_create_closes_without_answer_and_creates_nothing(
    sandbox: Sandbox, raw: Raw
) -> None:
    sandbox.faults.drop_before_create()
    with pytest.raises(http.client.RemoteDisconnected):
        raw.create()
    assert sandbox.messages == []


def test_drop_after_create_closes_without_answer_but_creates(sandbox: Sandbox, raw: Raw) -> None:
    sandbox.faults.drop_after_create()
    with pytest.raises(http.client.RemoteDisconnected):
        raw.create()
    assert len(sandbox.messages) == 1


def test_slow_answers_normally_after_the_delay(sandbox: Sandbox, raw: Raw) -> None:
    sandbox.faults.slow(seconds=0.3)
    started = time.monotonic()
    status, body, _ = raw.create_body()
    assert time.monotonic() - started >= 0.3
    assert status == 201
    assert_valid_response(MESSAGES_PATH, "post", 201, json.loads(body))


def test_slow_answer_does_not_hold_up_other_connections() -> None:
    outcome: list[str] = []

    def slow_create(client: Raw) -> None:
        try:
            client.create()
            outcome.append("answered")
        except (OSError, http.client.HTTPException):
            outcome.append("cut by stop")

    with Sandbox() as sandbox:
        sandbox.faults.slow(seconds=60.0)
        slow_client, fast_client = Raw(sandbox), Raw(sandbox)
        slow = threading.Thread(target=slow_create, args=(slow_client,))
        slow.start()
        while not sandbox.messages:
            time.sleep(0.005)
        assert fast_client.create().status == 201
        assert outcome == []  # the slow answer is still pending when the fast one is back
    slow.join(5)
    assert outcome == ["cut by stop"]
    slow_client.close()
    fast_client.close()


def test_stop_cuts_a_slow_answer_short() -> None:
    sandbox = Sandbox().start()
    sandbox.faults.slow(seconds=120)
    client = Raw(sandbox)
    failed: list[BaseException] = []

    def create() -> None:
        try:
            client.create()
        except (OSError, http.client.HTTPException) as error:
            failed.append(error)

    worker = threading.Thread(target=create)
    worker.start()
    while not sandbox.requests:
        time.sleep(0.005)
    sandbox.stop()
    worker.join(30)  # far less than the 120 s the slow answer would take
    assert not worker.is_alive()
    assert failed


def test_gateway_page_answers_html_and_creates_nothing(sandbox: Sandbox, raw: Raw) -> None:
    sandbox.faults.gateway_page()
    status, body, content_type = raw.create_body()
    assert (status, content_type) == (502, "text/html")
    assert body.lstrip().startswith(b"<html>")
    assert sandbox.messages == []


def test_garbled_created_answers_201_with_a_body_that_is_not_json(
    sandbox: Sandbox, raw: Raw
) -> None:
    sandbox.faults.garbled_created()
    status, body, _ = raw.create_body()
    assert status == 201
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    assert len(sandbox.messages) == 1


def test_faults_apply_in_the_order_armed(sandbox: Sandbox, raw: Raw) -> None:
    sandbox.faults.rate_limit()
    sandbox.faults.error_after_create()
    assert [raw.create().status for _ in range(3)] == [429, 500, 201]


def test_faults_only_touch_creates(sandbox: Sandbox, raw: Raw) -> None:
    sandbox.faults.rate_limit()
    raw.connection.request("GET", raw.path, headers=raw.headers)
    response = raw.connection.getresponse()
    response.read()
    assert response.status == 200
    assert sandbox.faults.pending == [("rate_limit", 1)]


def test_clear_disarms_every_fault(sandbox: Sandbox, raw: Raw) -> None:
    sandbox.faults.rate_limit(times=3)
    sandbox.faults.clear()
    assert raw.create().status == 201


@pytest.mark.parametrize("times", [0, -1])
def test_times_must_be_positive(sandbox: Sandbox, times: int) -> None:
    with pytest.raises(ValueError, match="times"):
        sandbox.faults.drop_after_create(times=times)


def test_error_status_must_be_a_server_error(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="5xx"):
        sandbox.faults.error_after_create(status=404)
