"""Specification of the sandbox's live events (GET /_sandbox/events) and of what else the
console reads: the request log, the numbers, reset."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from twilio_component.sandbox import Sandbox
from twilio_component.sandbox.events import BACKLOG, EventHub, sse_event

OWN = "+15005550006"
CALLER = "+15558675310"


class Listener:
    """Reads one /_sandbox/events stream in a thread; `next()` gives (event, data)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.response = requests.get(
            f"{sandbox.base_url}/_sandbox/events",
            auth=(sandbox.account_sid, sandbox.auth_token),
            stream=True,
            timeout=10,
        )
        assert self.response.status_code == 200
        self.events: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        kind = ""
        try:
            for line in self.response.iter_lines(decode_unicode=True):
                if line.startswith("event: "):
                    kind = line[len("event: ") :]
                elif line.startswith("data: "):
                    self.events.put((kind, json.loads(line[len("data: ") :])))
        except requests.RequestException:
            pass
        finally:
            self.events.put(None)

    def next(self, kind: str | None = None) -> tuple[str, dict[str, Any]]:
        """The next event (of `kind`, skipping others)."""
        while True:
            item = self.events.get(timeout=10)
            assert item is not None, "the stream ended"
            if kind is None or item[0] == kind:
                return item

    def ended(self) -> bool:
        """Whether the stream ends (within 10 s)."""
        while True:
            item = self.events.get(timeout=10)
            if item is None:
                return True


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.fixture
def listener(sandbox: Sandbox) -> Iterator[Listener]:
    listening = Listener(sandbox)
    try:
        yield listening
    finally:
        sandbox.stop()  # ends the stream, so the reading thread lets go of the response
        listening.response.close()


def create(sandbox: Sandbox, body: str = "Hello") -> requests.Response:
    return requests.post(
        f"{sandbox.base_url}/2010-04-01/Accounts/{sandbox.account_sid}/Messages.json",
        data={"To": CALLER, "From": OWN, "Body": body},
        auth=(sandbox.account_sid, sandbox.auth_token),
        timeout=10,
    )


def control(sandbox: Sandbox, method: str, path: str, payload: Any = None) -> requests.Response:
    return requests.request(
        method,
        f"{sandbox.base_url}/_sandbox/{path}",
        json=payload,
        auth=(sandbox.account_sid, sandbox.auth_token),
        timeout=10,
    )


# -- the hub ---------------------------------------------------------------------------------


def test_an_event_is_its_id_its_name_and_one_line_of_json() -> None:
    assert sse_event("status", {"body": "two\nlines"}, 7) == (
        b'id: 7\nevent: status\ndata: {"body":"two\\nlines"}\n\n'
    )


def test_a_stream_gets_what_is_published_after_it_was_made_even_before_it_is_read() -> None:
    hub = EventHub()
    stream = hub.subscribe()
    hub.publish("faults", lambda: {"faults": []})
    assert next(stream).startswith(b"retry: ")
    assert next(stream) == b'id: 1\nevent: faults\ndata: {"faults":[]}\n\n'


def test_nothing_is_built_while_nobody_listens() -> None:
    hub = EventHub()
    built: list[int] = []
    hub.publish("faults", lambda: built.append(1) or {})  # type: ignore[func-returns-value]
    assert built == []


def test_closing_the_hub_ends_every_stream_after_what_it_holds() -> None:
    hub = EventHub()
    stream = hub.subscribe()
    hub.publish("cleared", dict)
    hub.close()
    pieces = list(stream)
    assert pieces[-1] == b"id: 1\nevent: cleared\ndata: {}\n\n"
    assert list(hub.subscribe()) == [pieces[0]]  # a stream made after the close ends at once


def test_a_stream_that_falls_too_far_behind_is_ended_so_its_client_reconnects() -> None:
    hub = EventHub()
    stream = hub.subscribe()
    for _ in range(BACKLOG + 1):
        hub.publish("cleared", dict)
    assert next(stream).startswith(b"retry: ")
    with pytest.raises(StopIteration):
        next(stream)


def test_a_closed_stream_is_told_nothing_more() -> None:
    hub = EventHub()
    stream = hub.subscribe()
    stream.close()
    assert not hub.listening


# -- the sandbox's events --------------------------------------------------------------------


def test_a_created_message_is_a_message_event_then_each_new_status_a_status_event(
    sandbox: Sandbox, listener: Listener
) -> None:
    sid = create(sandbox).json()["sid"]
    _kind, record = listener.next("message")
    assert (record["sid"], record["status"], record["encoding"]) == (sid, "queued", "GSM-7")
    statuses = [listener.next("status")[1]["status"] for _ in range(3)]
    assert statuses == ["sending", "sent", "delivered"]


def test_a_status_event_carries_the_whole_status_history(
    sandbox: Sandbox, listener: Listener
) -> None:
    create(sandbox)
    for _ in range(3):
        _, record = listener.next("status")
    assert [step["status"] for step in record["status_history"]] == [
        "queued",
        "sending",
        "sent",
        "delivered",
    ]


def test_an_inbound_message_is_an_inbound_event(sandbox: Sandbox, listener: Listener) -> None:
    sandbox.receive(CALLER, OWN, "Hi there")
    _, record = listener.next("inbound")
    assert (record["direction"], record["from"], record["body"]) == ("inbound", CALLER, "Hi there")


def test_arming_a_fault_and_the_create_it_strikes_are_faults_events(
    sandbox: Sandbox, listener: Listener
) -> None:
    control(sandbox, "POST", "faults", {"kind": "rate_limit"})
    assert listener.next("faults")[1] == {"faults": [{"kind": "rate_limit", "count": 1}]}
    create(sandbox)
    assert listener.next("faults")[1] == {"faults": []}


def test_each_api_answer_is_a_request_event_with_its_status_and_error_code(
    sandbox: Sandbox, listener: Listener
) -> None:
    sandbox.faults.rate_limit()
    create(sandbox)
    _, answer = listener.next("request")
    assert (answer["method"], answer["status"], answer["error_code"]) == ("POST", 429, 20429)
    assert (answer["to"], answer["from"]) == (CALLER, OWN)
    assert answer["path"].endswith("/Messages.json")


def test_clearing_the_messages_is_a_cleared_event(sandbox: Sandbox, listener: Listener) -> None:
    create(sandbox)
    control(sandbox, "DELETE", "messages")
    assert listener.next("cleared")[1] == {}


def test_deleting_a_message_is_a_removed_event(sandbox: Sandbox, listener: Listener) -> None:
    sid = create(sandbox).json()["sid"]
    sandbox.settle()
    requests.delete(
        f"{sandbox.base_url}/2010-04-01/Accounts/{sandbox.account_sid}/Messages/{sid}.json",
        auth=(sandbox.account_sid, sandbox.auth_token),
        timeout=10,
    )
    assert listener.next("removed")[1] == {"sid": sid}


def test_stopping_the_sandbox_ends_an_open_event_stream(sandbox: Sandbox) -> None:
    listening = Listener(sandbox)
    stopper = threading.Thread(target=sandbox.stop)
    stopper.start()
    stopper.join(10)
    assert not stopper.is_alive()
    assert listening.ended()


def test_the_event_stream_answers_as_text_event_stream_uncached(
    sandbox: Sandbox, listener: Listener
) -> None:
    assert listener.response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert listener.response.headers["Cache-Control"] == "no-store"


# -- the request log and reset ---------------------------------------------------------------


def test_requests_lists_each_api_answer_oldest_first_without_credentials(
    sandbox: Sandbox,
) -> None:
    sandbox.faults.fail()
    create(sandbox, "struck")
    create(sandbox, "fine")
    requests.get(f"{sandbox.base_url}/2010-04-01/Accounts/{sandbox.account_sid}.json", timeout=5)
    listed = control(sandbox, "GET", "requests")
    answers = listed.json()["requests"]
    assert [(a["status"], a["error_code"]) for a in answers] == [
        (500, 20500),
        (201, None),
        (401, 20003),
    ]
    assert sandbox.auth_token not in listed.text


def test_a_dropped_connection_is_listed_with_no_status(sandbox: Sandbox) -> None:
    sandbox.faults.drop_before_create()
    with pytest.raises(requests.ConnectionError):
        create(sandbox)
    assert [a["status"] for a in control(sandbox, "GET", "requests").json()["requests"]] == [None]


def test_deleting_requests_forgets_them(sandbox: Sandbox) -> None:
    create(sandbox)
    assert control(sandbox, "DELETE", "requests").status_code == 204
    assert control(sandbox, "GET", "requests").json() == {"requests": []}


def test_reset_forgets_messages_requests_and_faults(sandbox: Sandbox) -> None:
    create(sandbox)
    sandbox.faults.rate_limit(times=3)
    sandbox.faults.undelivered("+15558675311")
    assert control(sandbox, "POST", "reset").status_code == 204
    assert sandbox.messages == []
    assert control(sandbox, "GET", "requests").json() == {"requests": []}
    assert control(sandbox, "GET", "faults").json() == {"faults": []}


def test_messages_read_back_say_how_their_body_is_encoded(sandbox: Sandbox) -> None:
    create(sandbox, "plain text")
    create(sandbox, "Olá, até já")
    sandbox.receive(CALLER, OWN, "Gracias 🙏")
    records = control(sandbox, "GET", "messages").json()["messages"]
    assert [r["encoding"] for r in records] == ["GSM-7", "UCS-2", "UCS-2"]


def test_numbers_lists_each_sandbox_number_with_where_its_webhook_goes() -> None:
    with Sandbox(numbers=["+15558675300"]) as sandbox:
        listed = control(sandbox, "GET", "numbers").json()["numbers"]
    assert [n["phone_number"] for n in listed] == [OWN, "+15558675300"]
    assert set(listed[0]) == {"phone_number", "sid", "sms_url", "sms_method", "status_callback"}
    assert listed[0]["sms_url"] == ""
