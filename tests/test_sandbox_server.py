"""Specification of the sandbox's HTTP face: auth, routing, headers, listing, limits, threads."""

from __future__ import annotations

import base64
import http.client
import re
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from openapi import (
    MESSAGE_PATH,
    MESSAGES_PATH,
    assert_valid_create_form,
    assert_valid_error,
    assert_valid_response,
)

from twilio_component.sandbox import ManualClock, Sandbox

SENDER = "+15005550006"
RECIPIENT = "+15558675310"
START = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
RFC2822 = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000"
)


class Api:
    """Raw HTTP to one sandbox account over a keep-alive requests session."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.session = requests.Session()
        self.session.auth = (sandbox.account_sid, sandbox.auth_token)
        self.messages_url = (
            f"{sandbox.base_url}/2010-04-01/Accounts/{sandbox.account_sid}/Messages.json"
        )

    def create(self, **form: str) -> requests.Response:
        fields = {"To": RECIPIENT, "From": SENDER, "Body": "Hello"}
        fields.update(form)
        return self.session.post(self.messages_url, data=fields, timeout=5)

    def created(self, **form: str) -> dict[str, Any]:
        response = self.create(**form)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def get(self, uri: str) -> requests.Response:
        return self.session.get(self.sandbox.base_url + uri, timeout=5)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.fixture
def api(sandbox: Sandbox) -> Api:
    return Api(sandbox)


def test_create_answers_201_json_with_length_and_keep_alive(api: Api) -> None:
    response = api.create()
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert response.headers["Connection"] == "keep-alive"
    assert_valid_response(MESSAGES_PATH, "post", 201, response.json())


def test_one_connection_serves_many_requests(sandbox: Sandbox) -> None:
    parts = urlsplit(sandbox.base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    credentials = base64.b64encode(f"{sandbox.account_sid}:{sandbox.auth_token}".encode())
    headers = {"Authorization": "Basic " + credentials.decode()}
    connection.connect()
    first_socket = connection.sock
    for _ in range(5):
        connection.request(
            "GET", f"/2010-04-01/Accounts/{sandbox.account_sid}/Messages.json", headers=headers
        )
        response = connection.getresponse()
        response.read()
        assert response.status == 200
    assert connection.sock is first_socket
    connection.close()


def test_created_resource_looks_like_twilios(api: Api, sandbox: Sandbox) -> None:
    body = api.created()
    sid = body["sid"]
    assert re.fullmatch(r"SM[0-9a-f]{32}", sid)
    assert body["status"] == "queued"
    assert body["direction"] == "outbound-api"
    assert body["api_version"] == "2010-04-01"
    assert body["price"] is None
    assert body["date_sent"] is None
    assert body["error_code"] is None
    assert RFC2822.fullmatch(body["date_created"])
    base = f"/2010-04-01/Accounts/{sandbox.account_sid}/Messages/{sid}"
    assert body["uri"] == base + ".json"
    assert body["subresource_uris"] == {
        "media": base + "/Media.json",
        "feedback": base + "/Feedback.json",
    }


def test_dates_are_rfc2822_in_plus_0000() -> None:
    with Sandbox(clock=ManualClock(START)) as sandbox:
        body = Api(sandbox).created()
    assert body["date_created"] == "Tue, 01 Jan 2030 12:00:00 +0000"
    assert body["date_updated"] == "Tue, 01 Jan 2030 12:00:00 +0000"


def test_media_message_has_mm_sid_and_counts_media(api: Api) -> None:
    response = api.session.post(
        api.messages_url,
        data=[
            ("To", RECIPIENT),
            ("From", SENDER),
            ("MediaUrl", "https://example.com/a.png"),
            ("MediaUrl", "https://example.com/b.png"),
        ],
        timeout=5,
    )
    body = response.json()
    assert response.status_code == 201
    assert body["sid"].startswith("MM")
    assert (body["num_media"], body["body"]) == ("2", "")


def test_messaging_service_create_is_accepted_with_no_sender_yet(api: Api) -> None:
    service = "MG" + "a" * 32
    response = api.session.post(
        api.messages_url,
        data={"To": RECIPIENT, "MessagingServiceSid": service, "Body": "Hi"},
        timeout=5,
    )
    body = response.json()
    assert_valid_response(MESSAGES_PATH, "post", 201, body)
    assert (body["status"], body["from"], body["messaging_service_sid"]) == (
        "accepted",
        None,
        service,
    )


def test_fetch_answers_the_stored_resource(api: Api) -> None:
    created = api.created()
    response = api.get(created["uri"])
    assert response.status_code == 200
    assert_valid_response(MESSAGE_PATH, "get", 200, response.json())
    assert response.json()["sid"] == created["sid"]


def test_missing_credentials_get_20003(api: Api) -> None:
    response = requests.get(api.messages_url, timeout=5)
    assert response.status_code == 401
    assert response.json()["code"] == 20003
    assert_valid_error(response.json(), 401)


def test_wrong_token_gets_20003_and_creates_nothing(api: Api, sandbox: Sandbox) -> None:
    api.session.auth = (sandbox.account_sid, "wrong")
    response = api.create()
    assert (response.status_code, response.json()["code"]) == (401, 20003)
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert sandbox.messages == []


def test_basic_scheme_name_is_case_insensitive(api: Api, sandbox: Sandbox) -> None:
    token = base64.b64encode(f"{sandbox.account_sid}:{sandbox.auth_token}".encode()).decode()
    response = requests.get(
        api.messages_url, headers={"Authorization": "bAsIc " + token}, timeout=5
    )
    assert response.status_code == 200


def test_account_in_path_must_be_the_sandboxes(api: Api, sandbox: Sandbox) -> None:
    other = "AC" + "f" * 32
    response = api.session.get(
        f"{sandbox.base_url}/2010-04-01/Accounts/{other}/Messages.json", timeout=5
    )
    assert (response.status_code, response.json()["code"]) == (401, 20003)
    assert_valid_error(response.json(), 401)


def test_api_key_authenticates_but_its_secret_is_needed(api: Api, sandbox: Sandbox) -> None:
    key = "SK" + "2" * 32
    sandbox.add_api_key(key, "secret")
    api.session.auth = (key, "secret")
    assert api.create().status_code == 201
    api.session.auth = (key, "not-the-secret")
    assert api.create().status_code == 401


def test_api_key_sid_must_look_like_one(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="SK"):
        sandbox.add_api_key("AK" + "2" * 32, "secret")


@pytest.mark.parametrize(
    "path",
    ["/", "/2010-04-01/Accounts/{sid}/Queues.json", "/2010-04-01/Accounts/{sid}/Messages.xml"],
)
def test_unknown_path_gets_20404(api: Api, sandbox: Sandbox, path: str) -> None:
    response = api.get(path.format(sid=sandbox.account_sid))
    assert (response.status_code, response.json()["code"]) == (404, 20404)
    assert_valid_error(response.json(), 404)


def test_unknown_message_gets_20404(api: Api, sandbox: Sandbox) -> None:
    response = api.get(f"/2010-04-01/Accounts/{sandbox.account_sid}/Messages/SM{'0' * 32}.json")
    assert (response.status_code, response.json()["code"]) == (404, 20404)


def test_unsupported_method_gets_405(api: Api) -> None:
    response = api.session.put(api.messages_url, timeout=5)
    assert response.status_code == 405
    assert_valid_error(response.json(), 405)


def test_refused_create_answers_twilio_error_json(api: Api) -> None:
    response = api.create(To="12345")
    assert (response.status_code, response.json()["code"]) == (400, 21211)
    assert_valid_error(response.json(), 400)


def test_list_pages_link_through_next_and_previous_page_uri(api: Api) -> None:
    sids = [api.created(Body=f"n{i}")["sid"] for i in range(5)]
    uri: str | None = api.messages_url.removeprefix(api.sandbox.base_url) + "?PageSize=2"
    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    while uri is not None:
        response = api.get(uri)
        assert response.status_code == 200
        page = response.json()
        assert_valid_response(MESSAGES_PATH, "get", 200, page)
        pages.append(page)
        seen.extend(m["sid"] for m in page["messages"])
        uri = page["next_page_uri"]
    assert seen == sids[::-1]
    assert [(p["page"], p["start"], p["end"]) for p in pages] == [(0, 0, 1), (1, 2, 3), (2, 4, 4)]
    assert pages[0]["previous_page_uri"] is None
    back = api.get(pages[2]["previous_page_uri"]).json()
    assert [m["sid"] for m in back["messages"]] == [m["sid"] for m in pages[1]["messages"]]


def test_list_filters_by_to_and_from(api: Api, sandbox: Sandbox) -> None:
    other_sender = "+15557770000"
    with Sandbox(numbers=[other_sender]) as second:
        other = Api(second)
        mine = other.created(From=other_sender)["sid"]
        other.created(To="+15558675311")
        listed = other.session.get(
            other.messages_url, params={"To": RECIPIENT, "From": other_sender}, timeout=5
        ).json()
    assert [m["sid"] for m in listed["messages"]] == [mine]
    assert "To=%2B15558675310" in listed["uri"]


def test_list_filters_by_date_sent() -> None:
    clock = ManualClock(START)
    with Sandbox(clock=clock) as sandbox:
        api = Api(sandbox)
        first = api.created()["sid"]
        sandbox.advance(86_400)  # sent on 2030-01-01, one day passes
        second = api.created()["sid"]
        sandbox.advance(10)  # sent on 2030-01-02
        unsent = api.created()["sid"]

        def listed(**params: str) -> list[str]:
            response = api.session.get(api.messages_url, params=params, timeout=5)
            assert response.status_code == 200, response.text
            return [m["sid"] for m in response.json()["messages"]]

        assert listed(**{"DateSent": "2030-01-01"}) == [first]
        assert listed(**{"DateSent>": "2030-01-02"}) == [second]
        assert listed(**{"DateSent<": "2030-01-01"}) == [first]
        assert listed(**{"DateSent>": "2030-01-01T12:00:05Z"}) == [second]
        assert unsent in listed()


def test_list_refuses_a_page_size_that_is_not_a_number(api: Api) -> None:
    response = api.session.get(api.messages_url, params={"PageSize": "lots"}, timeout=5)
    assert response.status_code == 400
    assert_valid_error(response.json(), 400)


def test_oldest_messages_are_evicted_past_the_cap() -> None:
    with Sandbox(message_cap=3) as sandbox:
        api = Api(sandbox)
        sids = [api.created(Body=f"n{i}")["sid"] for i in range(5)]
        assert [m["sid"] for m in sandbox.messages] == sids[2:]
        assert (
            api.get(
                f"/2010-04-01/Accounts/{sandbox.account_sid}/Messages/{sids[0]}.json"
            ).status_code
            == 404
        )


def test_concurrent_creates_are_all_stored_with_distinct_sids(sandbox: Sandbox) -> None:
    threads, per_thread = 8, 40
    found: list[str] = []
    lock = threading.Lock()

    def create_many() -> None:
        api = Api(sandbox)
        for i in range(per_thread):
            sid = api.created(Body=f"n{i}")["sid"]
            with lock:
                found.append(sid)

    workers = [threading.Thread(target=create_many) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(set(found)) == threads * per_thread
    assert {m["sid"] for m in sandbox.messages} == set(found)


def test_requests_are_recorded_without_the_password(api: Api, sandbox: Sandbox) -> None:
    api.create(Body="recorded")
    recorded = sandbox.requests[-1]
    assert (recorded.method, recorded.path) == (
        "POST",
        api.messages_url.removeprefix(sandbox.base_url),
    )
    assert recorded.form["Body"] == ["recorded"]
    assert_valid_create_form(recorded.form)
    assert recorded.auth_username == sandbox.account_sid
    assert sandbox.auth_token not in repr(recorded)


def test_repr_shows_account_and_url_but_never_the_token(sandbox: Sandbox) -> None:
    shown = repr(sandbox)
    assert sandbox.account_sid in shown
    assert sandbox.base_url in shown
    assert sandbox.auth_token not in shown


def test_connection_is_the_component_connection(sandbox: Sandbox) -> None:
    assert sandbox.connection == {"username": sandbox.account_sid, "password": sandbox.auth_token}


def test_reset_forgets_messages_requests_and_faults(api: Api, sandbox: Sandbox) -> None:
    api.create()
    sandbox.faults.rate_limit()
    sandbox.reset()
    assert (sandbox.messages, sandbox.requests, sandbox.faults.pending) == ([], [], [])


def test_expect_continue_and_chunked_bodies_are_understood(sandbox: Sandbox) -> None:
    parts = urlsplit(sandbox.base_url)
    credentials = base64.b64encode(f"{sandbox.account_sid}:{sandbox.auth_token}".encode()).decode()
    form = b"To=%2B15558675310&From=%2B15005550006&Body=chunky"
    head = (
        f"POST /2010-04-01/Accounts/{sandbox.account_sid}/Messages.json HTTP/1.1\r\n"
        f"Host: {parts.netloc}\r\nAuthorization: Basic {credentials}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nExpect: 100-continue\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname or "", parts.port or 0), timeout=5) as sock:
        sock.sendall(head)
        assert sock.recv(64).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(f"{len(form):x}\r\n".encode() + form + b"\r\n0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 201 ")
    assert [m["body"] for m in sandbox.messages] == ["chunky"]


def test_base_url_needs_a_started_sandbox() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = Sandbox().base_url


def test_failed_auth_is_recorded_with_the_offered_username_only(api: Api, sandbox: Sandbox) -> None:
    api.session.auth = ("AC" + "9" * 32, "guessed-password")
    api.create()
    recorded = sandbox.requests[-1]
    assert recorded.auth_username == "AC" + "9" * 32
    assert "guessed-password" not in repr(recorded)


def test_delete_forgets_a_message(api: Api, sandbox: Sandbox) -> None:
    uri = api.created()["uri"]
    assert api.session.delete(sandbox.base_url + uri, timeout=5).status_code == 204
    assert api.get(uri).status_code == 404
    assert sandbox.messages == []


def test_message_gives_one_stored_resource(api: Api, sandbox: Sandbox) -> None:
    sid = api.created(Body="just this")["sid"]
    assert sandbox.message(sid)["body"] == "just this"
    with pytest.raises(KeyError):
        sandbox.message("SM" + "0" * 32)
