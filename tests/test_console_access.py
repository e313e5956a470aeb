"""Specification of who may open the console and its control API: the token, 401s, its files."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.resources import files
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from console_browser import sandbox_process

from twilio_component.sandbox import Sandbox
from twilio_component.sandbox.console import ConsoleAccess
from twilio_component.sandbox.server import Request

CONTROL_ENDPOINTS = [
    ("GET", "/_sandbox/events"),
    ("GET", "/_sandbox/requests"),
    ("DELETE", "/_sandbox/requests"),
    ("POST", "/_sandbox/reset"),
    ("GET", "/_sandbox/numbers"),
    ("GET", "/_sandbox/messages"),
    ("POST", "/_sandbox/faults"),
    ("POST", "/_sandbox/inbound"),
]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


def token_of(sandbox: Sandbox) -> str:
    return parse_qs(urlsplit(sandbox.console_url).query)["token"][0]


def console(sandbox: Sandbox, name: str = "", **params: str) -> requests.Response:
    return requests.get(f"{sandbox.base_url}/_console/{name}", params=params, timeout=5)


# -- the token -------------------------------------------------------------------------------


def test_the_console_url_is_the_base_url_with_a_token_that_is_not_the_auth_token(
    sandbox: Sandbox,
) -> None:
    url = sandbox.console_url
    assert url.startswith(f"{sandbox.base_url}/_console/?token=")
    assert len(token_of(sandbox)) >= 32
    assert sandbox.auth_token not in url


def test_each_sandbox_has_its_own_console_token() -> None:
    with Sandbox() as first, Sandbox() as second:
        assert token_of(first) != token_of(second)


def test_the_token_is_compared_whole() -> None:
    access = ConsoleAccess("abcdef")
    assert access.matches("abcdef")
    assert not access.matches("abcde")
    assert not access.matches("abcdefg")
    assert not access.matches("")
    assert not access.matches(None)


def test_the_token_is_read_from_a_query_string_or_from_its_header() -> None:
    access = ConsoleAccess("abcdef")
    assert access.in_query(Request("GET", "/_console/?x=1&token=abcdef", {}, b""))
    assert not access.in_query(Request("GET", "/_console/?token=abcdeX", {}, b""))
    assert access.in_header(Request("GET", "/", {"x-sandbox-console-token": "abcdef"}, b""))
    assert not access.in_header(Request("GET", "/", {}, b""))


def test_the_token_never_shows_in_a_repr() -> None:
    assert "abcdef" not in repr(ConsoleAccess("abcdef"))


# -- the page --------------------------------------------------------------------------------


def test_the_console_page_answers_401_without_its_token(sandbox: Sandbox) -> None:
    answer = console(sandbox)
    assert answer.status_code == 401
    assert "console_url" in answer.text


def test_the_console_page_answers_401_with_a_wrong_token(sandbox: Sandbox) -> None:
    assert console(sandbox, token="not-the-token").status_code == 401
    assert console(sandbox, token=sandbox.auth_token).status_code == 401


def test_the_console_page_with_its_token_is_html_that_loads_nothing_from_elsewhere(
    sandbox: Sandbox,
) -> None:
    answer = requests.get(sandbox.console_url, timeout=5)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    policy = answer.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers["Cache-Control"] == "no-store"
    assert "http://" not in answer.text
    assert "https://" not in answer.text


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("console.css", "text/css; charset=utf-8"), ("console.js", "text/javascript; charset=utf-8")],
)
def test_the_page_links_its_stylesheet_and_script_with_the_token_they_need(
    sandbox: Sandbox, name: str, content_type: str
) -> None:
    page = requests.get(sandbox.console_url, timeout=5).text
    assert f"{name}?token={token_of(sandbox)}" in page
    assert console(sandbox, name).status_code == 401
    answer = console(sandbox, name, token=token_of(sandbox))
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == content_type


def test_the_console_without_its_trailing_slash_redirects_keeping_the_token(
    sandbox: Sandbox,
) -> None:
    answer = requests.get(
        f"{sandbox.base_url}/_console?token={token_of(sandbox)}",
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 308
    assert answer.headers["Location"] == f"/_console/?token={token_of(sandbox)}"


def test_an_unknown_console_file_is_404_and_a_post_is_405(sandbox: Sandbox) -> None:
    token = token_of(sandbox)
    assert console(sandbox, "secrets.txt", token=token).status_code == 404
    posted = requests.post(sandbox.console_url, timeout=5)
    assert posted.status_code == 405


def test_the_console_files_ship_inside_the_package() -> None:
    static = files("twilio_component.sandbox.console") / "static"
    for name in ("index.html", "console.css", "console.js"):
        assert (static / name).is_file(), name


# -- the control API -------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), CONTROL_ENDPOINTS)
def test_the_control_api_answers_401_without_credentials(
    sandbox: Sandbox, method: str, path: str
) -> None:
    answer = requests.request(method, f"{sandbox.base_url}{path}", json={}, timeout=5)
    assert answer.status_code == 401


@pytest.mark.parametrize(("method", "path"), CONTROL_ENDPOINTS)
def test_the_control_api_answers_401_with_a_wrong_console_token(
    sandbox: Sandbox, method: str, path: str
) -> None:
    answer = requests.request(
        method,
        f"{sandbox.base_url}{path}",
        json={},
        headers={"X-Sandbox-Console-Token": "wrong"},
        timeout=5,
    )
    assert answer.status_code == 401


def test_a_stale_console_token_is_not_invited_to_basic_auth_so_no_password_prompt(
    sandbox: Sandbox,
) -> None:
    stale = requests.get(
        f"{sandbox.base_url}/_sandbox/faults",
        headers={"X-Sandbox-Console-Token": "from-an-older-sandbox"},
        timeout=5,
    )
    assert stale.status_code == 401
    assert not stale.headers["WWW-Authenticate"].startswith("Basic")
    bare = requests.get(f"{sandbox.base_url}/_sandbox/faults", timeout=5)
    assert bare.headers["WWW-Authenticate"].startswith("Basic")


def test_the_control_api_accepts_the_console_token_in_its_header(sandbox: Sandbox) -> None:
    answer = requests.post(
        f"{sandbox.base_url}/_sandbox/faults",
        json={"kind": "fail"},
        headers={"X-Sandbox-Console-Token": token_of(sandbox)},
        timeout=5,
    )
    assert answer.status_code == 201
    assert sandbox.faults.pending == [("fail", 1)]


def test_a_token_in_the_query_string_opens_the_event_stream_and_nothing_else(
    sandbox: Sandbox,
) -> None:
    token = token_of(sandbox)
    listed = requests.get(f"{sandbox.base_url}/_sandbox/messages?token={token}", timeout=5)
    assert listed.status_code == 401
    with requests.get(
        f"{sandbox.base_url}/_sandbox/events?token={token}", stream=True, timeout=5
    ) as events:
        assert events.status_code == 200
        sandbox.stop()


def test_the_console_token_opens_no_door_of_twilio_s_api(sandbox: Sandbox) -> None:
    answer = requests.get(
        f"{sandbox.base_url}/2010-04-01/Accounts/{sandbox.account_sid}/Messages.json",
        headers={"X-Sandbox-Console-Token": token_of(sandbox)},
        params={"token": token_of(sandbox)},
        timeout=5,
    )
    assert answer.status_code == 401


def test_the_sandbox_command_prints_a_console_url_whose_page_needs_its_token() -> None:
    with sandbox_process() as served:
        assert served.console_url.startswith(f"{served.base_url}/_console/?token=")
        assert requests.get(served.console_url, timeout=5).status_code == 200
        assert requests.get(f"{served.base_url}/_console/", timeout=5).status_code == 401
        control = requests.get(f"{served.base_url}/_sandbox/messages", timeout=5)
        assert control.status_code == 401
