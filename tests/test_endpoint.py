"""Where requests go: TWILIO_API_BASE_URL, region and edge, and plain http only on loopback."""

from __future__ import annotations

import pytest
from conftest import FROM, TO, Cli

from twilio_component.errors import ConnectionConfigError
from twilio_component.twilio.endpoint import resolve_base_url


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "https://api.twilio.com"),
        ({"TWILIO_REGION": "ie1"}, "https://api.ie1.twilio.com"),
        ({"TWILIO_EDGE": "dublin"}, "https://api.dublin.us1.twilio.com"),
        ({"TWILIO_EDGE": "sydney", "TWILIO_REGION": "au1"}, "https://api.sydney.au1.twilio.com"),
        (
            {"TWILIO_API_BASE_URL": "http://127.0.0.1:8080/", "TWILIO_REGION": "ie1"},
            "http://127.0.0.1:8080",
        ),
        ({"TWILIO_API_BASE_URL": "http://localhost:1"}, "http://localhost:1"),
        ({"TWILIO_API_BASE_URL": "http://[::1]:1"}, "http://[::1]:1"),
    ],
)
def test_base_url_comes_from_the_environment(environ: dict[str, str], expected: str) -> None:
    assert resolve_base_url(None, environ) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://api.twilio.com",
        "http://10.0.0.5:8080",
        "ftp://127.0.0.1",
        "https://u:p@host",
        "https://token@host",
        "https://host/?x=1",
        "http://[::1",
        "not a url",
    ],
)
def test_unsafe_or_malformed_base_urls_are_refused(url: str) -> None:
    with pytest.raises(ConnectionConfigError, match="TWILIO_API_BASE_URL"):
        resolve_base_url(url, {})


def test_plain_http_to_another_host_exits_2_before_sending(cli: Cli) -> None:
    env = {
        "TWILIO_ACCOUNT_SID": "AC" + "b" * 32,
        "TWILIO_AUTH_TOKEN": "a-token-of-realistic-length",
        "TWILIO_API_BASE_URL": "http://192.0.2.1:9",
    }
    result = cli("send", "--to", TO, "--from", FROM, "--body", "x", env=env)
    assert result.code == 2
    assert "only https may leave the machine" in result.err


@pytest.mark.parametrize(
    "url", ["http://user:hunter2pass@127.0.0.1:8765/", "https://x:hunter2pass@[::1"]
)
def test_a_refused_base_url_is_shown_without_its_password(url: str) -> None:
    with pytest.raises(ConnectionConfigError, match="TWILIO_API_BASE_URL") as caught:
        resolve_base_url(url, {})
    assert "hunter2pass" not in str(caught.value)
    assert "***@" in str(caught.value)
