"""The console in a real browser shows the replies a webhook's TwiML sent, like any message."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from console_browser import CHROMIUM_ARGS, OWN, Served, chromium_or_fail, sandbox_process
from playwright.sync_api import Browser, Page, expect, sync_playwright

DAVE = "+15558675313"
NO_LIMIT = 60_000  # ms: long enough for a loaded machine, never a hang


class _Replying(http.server.BaseHTTPRequestHandler):
    """A webhook that answers every inbound SMS with one ``<Message>``."""

    answer = b"<Response><Message>Got it, thanks</Message></Response>"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(self.answer)))
        self.end_headers()
        self.wfile.write(self.answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with sandbox_process() as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_or_fail()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def webhook(served: Served) -> Iterator[str]:
    """The replying webhook on loopback, set as the sandbox number's SmsUrl."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Replying)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    session = requests.Session()
    session.auth = (served.account_sid, served.auth_token)
    root = f"{served.base_url}/2010-04-01/Accounts/{served.account_sid}"
    listed = session.get(f"{root}/IncomingPhoneNumbers.json", params={"PhoneNumber": OWN})
    number_url = (
        f"{root}/IncomingPhoneNumbers/{listed.json()['incoming_phone_numbers'][0]['sid']}.json"
    )
    url = f"http://127.0.0.1:{server.server_address[1]}/sms"
    session.post(number_url, data={"SmsUrl": url}).raise_for_status()
    try:
        yield url
    finally:
        session.post(number_url, data={"SmsUrl": ""})
        server.shutdown()
        server.server_close()


@pytest.fixture
def page(browser: Browser, served: Served) -> Iterator[Page]:
    """The console opened on a freshly reset sandbox, once its event stream is live."""
    assert served.control("POST", "reset").status_code == 204
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    opened.goto(served.console_url)
    expect(opened.locator("#connection")).to_have_attribute("data-state", "live", timeout=NO_LIMIT)
    try:
        yield opened
    finally:
        context.close()


def test_a_twiml_reply_shows_in_the_conversation_as_an_outbound_message(
    page: Page, served: Served, webhook: str
) -> None:
    page.get_by_text("Text the sandbox from a new number").click()
    page.get_by_label("From (the phone)").fill(DAVE)
    page.get_by_label("Message", exact=True).fill("Anyone there?")
    page.get_by_role("button", name="Send as this phone").click()
    expect(page.locator("#webhook-answer")).to_contain_text(
        "Its TwiML sent 1 reply", timeout=NO_LIMIT
    )
    expect(page.locator("#message-list li.outbound")).to_contain_text(
        "Got it, thanks", timeout=NO_LIMIT
    )
    expect(page.locator("#message-list li.inbound")).to_contain_text(
        "Anyone there?", timeout=NO_LIMIT
    )
    replies = served.listed(From=OWN, To=DAVE)
    assert [(m["direction"], m["body"]) for m in replies] == [("outbound-reply", "Got it, thanks")]
