"""The WSGI application mounts every trigger of the host inside a real framework's app (Flask)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import flask
import pytest
from twilio.request_validator import RequestValidator
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from twilio_component import Host
from twilio_component.wsgi import TriggerApp

TOKEN = "f" * 32
CONNECTION = {"username": "AC" + "1" * 32, "password": TOKEN}
FIELDS = {"MessageSid": "SM" + "e" * 32, "From": "+15558675310", "To": "+15005550006", "Body": "hi"}


@pytest.fixture
def received() -> list[tuple[str, dict[str, Any]]]:
    return []


@pytest.fixture
def client(received: list[tuple[str, dict[str, Any]]], request: Any) -> Iterator[Any]:
    public, forwarded = getattr(request, "param", (None, False))
    with Host.load() as host:
        triggers = TriggerApp(
            host,
            connections={"twilio": CONNECTION},
            on_events=lambda kind, events: received.extend((kind, e) for e in events),
            public_url=public,
            trust_forwarded=forwarded,
        )
        web = flask.Flask("engine")

        @web.get("/health")
        def health() -> str:
            return "ok"

        web.wsgi_app = DispatcherMiddleware(web.wsgi_app, {"/hooks": triggers})  # type: ignore[method-assign]
        yield web.test_client()


def signed_post(client: Any, url: str, fields: dict[str, str], **headers: str) -> Any:
    signature = RequestValidator(TOKEN).compute_signature(url, fields)
    return client.post(
        url,
        data=urlencode(fields),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature, **headers},
    )


def forwarded_post(client: Any) -> Any:
    """A webhook signed over the public URL, arriving through a proxy that says so."""
    public = "https://hooks.example.com/hooks/twilio/v1/newIncomingSMS"
    signature = RequestValidator(TOKEN).compute_signature(public, FIELDS)
    return client.post(
        "/hooks/twilio/v1/newIncomingSMS",
        data=FIELDS,
        headers={
            "X-Twilio-Signature": signature,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "hooks.example.com",
        },
    )


def test_the_frameworks_own_routes_still_answer(client: Any) -> None:
    assert client.get("/health").text == "ok"


def test_a_signed_webhook_under_the_mount_path_emits_one_event(
    client: Any, received: list[tuple[str, dict[str, Any]]]
) -> None:
    url = "http://localhost/hooks/twilio/v1/newIncomingSMS"
    answer = signed_post(client, url, FIELDS)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/xml"
    assert b"<Response/>" in answer.data
    assert [(kind, e["body"]) for kind, e in received] == [("twilio/v1/newIncomingSMS", "hi")]


def test_an_unsigned_webhook_is_403_and_emits_nothing(
    client: Any, received: list[tuple[str, dict[str, Any]]]
) -> None:
    answer = client.post("/hooks/twilio/v1/messageStatus", data=FIELDS)
    assert answer.status_code == 403
    assert received == []


def test_a_path_that_is_no_trigger_is_404(client: Any) -> None:
    assert client.post("/hooks/twilio/v1/sendSMS", data=FIELDS).status_code == 404


def test_forwarded_headers_are_ignored_unless_trusted(
    client: Any, received: list[tuple[str, dict[str, Any]]]
) -> None:
    answer = forwarded_post(client)
    assert answer.status_code == 403


@pytest.mark.parametrize("client", [(None, True)], indirect=True)
def test_trusted_forwarded_headers_give_the_public_url(
    client: Any, received: list[tuple[str, dict[str, Any]]]
) -> None:
    answer = forwarded_post(client)
    assert answer.status_code == 200
    assert len(received) == 1


@pytest.mark.parametrize("client", [("https://public.example.com/hooks", False)], indirect=True)
def test_a_configured_public_url_is_what_signatures_cover(
    client: Any, received: list[tuple[str, dict[str, Any]]]
) -> None:
    local = "http://localhost/hooks/twilio/v1/newIncomingSMS"
    assert signed_post(client, local, FIELDS).status_code == 403
    public = "https://public.example.com/hooks/twilio/v1/newIncomingSMS"
    signature = RequestValidator(TOKEN).compute_signature(public, FIELDS)
    answer = client.post(
        "/hooks/twilio/v1/newIncomingSMS", data=FIELDS, headers={"X-Twilio-Signature": signature}
    )
    assert answer.status_code == 200
    assert len(received) == 1
