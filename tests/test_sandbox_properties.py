"""Properties of the sandbox over open-ended inputs: bodies, segment counts and list paging."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi import MESSAGES_PATH, assert_valid_response

from twilio_component.sandbox import ManualClock, Sandbox
from twilio_component.twilio.segments import count_segments

SENDER = "+15005550006"
RECIPIENT = "+15558675310"
FIXTURES = [HealthCheck.function_scoped_fixture]


@pytest.fixture(scope="module")
def shared() -> Iterator[Sandbox]:
    # A ManualClock keeps statuses still, so nothing runs in the background between examples.
    with Sandbox(clock=ManualClock()) as running:
        yield running


@pytest.fixture
def session(shared: Sandbox) -> Iterator[requests.Session]:
    with requests.Session() as running:
        running.auth = (shared.account_sid, shared.auth_token)
        yield running


def messages_url(sandbox: Sandbox) -> str:
    return f"{sandbox.base_url}/2010-04-01/Accounts/{sandbox.account_sid}/Messages.json"


bodies = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=400)


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES)
@given(body=bodies)
def test_any_body_is_stored_as_sent_with_its_segment_count(
    shared: Sandbox, session: requests.Session, body: str
) -> None:
    response = session.post(
        messages_url(shared), data={"To": RECIPIENT, "From": SENDER, "Body": body}, timeout=5
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    assert created["body"] == body
    assert created["num_segments"] == str(count_segments(body).segments)


@settings(max_examples=25, deadline=None, suppress_health_check=FIXTURES)
@given(
    count=st.integers(min_value=0, max_value=12), page_size=st.integers(min_value=1, max_value=5)
)
def test_walking_next_page_uri_lists_every_message_once_newest_first(
    shared: Sandbox, session: requests.Session, count: int, page_size: int
) -> None:
    shared.reset()
    url = messages_url(shared)
    sids = [
        session.post(url, data={"To": RECIPIENT, "From": SENDER, "Body": str(i)}, timeout=5).json()[
            "sid"
        ]
        for i in range(count)
    ]
    seen: list[str] = []
    next_uri: str | None = url.removeprefix(shared.base_url) + f"?PageSize={page_size}"
    while next_uri is not None:
        page = session.get(shared.base_url + next_uri, timeout=5).json()
        assert_valid_response(MESSAGES_PATH, "get", 200, page)
        assert len(page["messages"]) <= page_size
        seen.extend(message["sid"] for message in page["messages"])
        next_uri = page["next_page_uri"]
    assert seen == sids[::-1]
