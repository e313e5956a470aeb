"""The console in a real browser (Debian's Chromium, headless) against a real sandbox process."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from conftest import REPOSITORY
from console_browser import (
    ARTIFACTS,
    AXE,
    CHROMIUM_ARGS,
    OWN,
    Served,
    chromium_or_fail,
    sandbox_process,
    send,
)
from playwright.sync_api import Browser, Page, expect, sync_playwright

ALICE = "+15558675310"
BOB = "+15558675311"
CAROL = "+15558675312"


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
def page(browser: Browser, served: Served) -> Iterator[Page]:
    """The console freshly opened on a freshly reset sandbox, once its event stream is live."""
    assert served.control("POST", "reset").status_code == 204
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    opened.goto(served.console_url)
    expect(opened.locator("#connection")).to_have_attribute("data-state", "live")
    try:
        yield opened
    finally:
        context.close()


def thread(page: Page, number: str) -> Any:
    return page.locator("#thread-list button", has_text=number)


def test_a_message_sent_with_the_cli_shows_its_body_without_a_reload(
    page: Page, served: Served
) -> None:
    page.evaluate("window.notReloaded = true")
    result = send(served, ALICE, "Your code is 481516")
    assert result.returncode == 0, result.stderr
    expect(page.locator("#message-list")).to_contain_text("Your code is 481516", timeout=10_000)
    assert page.evaluate("window.notReloaded") is True
    expect(thread(page, ALICE)).to_be_visible()
    expect(page.locator("#message-list .history").first).to_contain_text("delivered")


def test_a_message_shows_segments_encoding_price_and_its_status_history(
    page: Page, served: Served
) -> None:
    served.create(ALICE, "Olá 👋 " + "x" * 70)
    message = page.locator("#message-list li.message").first
    expect(message).to_contain_text("UCS-2")
    expect(message.locator("dt", has_text="Segments").locator("xpath=..")).to_contain_text("2")
    expect(message.locator(".history")).to_contain_text("delivered")
    history = message.locator(".history li")
    expect(history).to_have_count(4)
    assert [item.split()[0] for item in history.all_inner_texts()] == [
        "queued",
        "sending",
        "sent",
        "delivered",
    ]
    expect(message).to_contain_text("-0.01580 USD")


class _TwiMLApp(http.server.BaseHTTPRequestHandler):
    """A webhook that answers every inbound SMS with a TwiML reply."""

    answer = b'<?xml version="1.0" encoding="UTF-8"?><Response><Message>Got it</Message></Response>'

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(self.answer)))
        self.end_headers()
        self.wfile.write(self.answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def webhook(served: Served) -> Iterator[str]:
    """A TwiML app on loopback, set as the sandbox number's SmsUrl for the test."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TwiMLApp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    numbers_url = f"{served.base_url}/2010-04-01/Accounts/{served.account_sid}"
    auth = (served.account_sid, served.auth_token)
    listed = f"{numbers_url}/IncomingPhoneNumbers.json"
    found = requests.get(listed, params={"PhoneNumber": OWN}, auth=auth, timeout=5).json()[
        "incoming_phone_numbers"
    ][0]
    number_url = f"{numbers_url}/IncomingPhoneNumbers/{found['sid']}.json"
    url = f"http://127.0.0.1:{server.server_address[1]}/sms"
    requests.post(number_url, data={"SmsUrl": url}, auth=auth, timeout=5).raise_for_status()
    try:
        yield url
    finally:
        requests.post(number_url, data={"SmsUrl": ""}, auth=auth, timeout=5)
        server.shutdown()
        server.server_close()


def test_send_reply_makes_the_sandbox_list_an_inbound_message_with_that_body(
    page: Page, served: Served
) -> None:
    served.create(BOB, "Are you coming tonight?")
    thread(page, BOB).click()
    page.get_by_label("Reply", exact=True).fill("Yes, at eight")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator("#webhook-answer")).to_contain_text("Stored as SM")
    inbound = served.listed(From=BOB, To=OWN)
    assert [(m["direction"], m["body"]) for m in inbound] == [("inbound", "Yes, at eight")]
    expect(page.locator("#message-list li.inbound")).to_contain_text("Yes, at eight")


def test_send_reply_shows_what_the_webhook_answered(
    page: Page, served: Served, webhook: str
) -> None:
    served.create(BOB, "Reply STOP to stop")
    thread(page, BOB).click()
    page.get_by_label("Reply", exact=True).fill("HELP")
    page.get_by_role("button", name="Send reply").click()
    answer = page.locator("#webhook-answer")
    expect(answer).to_contain_text("answered 200 (text/xml)")
    expect(answer).to_contain_text("<Message>Got it</Message>")


def test_a_new_number_can_text_the_sandbox_and_its_conversation_opens(
    page: Page, served: Served, webhook: str
) -> None:
    page.get_by_text("Text the sandbox from a new number").click()
    page.get_by_label("From (the phone)").fill(CAROL)
    expect(page.get_by_label("To (a sandbox number)")).to_have_value(OWN)
    page.get_by_label("Message", exact=True).fill("START")
    page.get_by_role("button", name="Send as this phone").click()
    expect(page.locator("#conversation-title")).to_contain_text(CAROL)
    expect(page.locator("#message-list li.inbound")).to_contain_text("START")
    expect(page.locator("#webhook-answer")).to_contain_text("<Message>Got it</Message>")
    expect(page.locator("#reply-hint")).to_contain_text(webhook)
    assert [m["body"] for m in served.listed(From=CAROL, To=OWN)] == ["START"]


def test_rate_limit_next_send_answers_one_429_the_cli_retries_and_the_page_shows_it(
    page: Page, served: Served
) -> None:
    page.get_by_role("button", name="Rate limit next send").click()
    expect(page.locator("#armed-list")).to_contain_text("429")
    result = send(served, ALICE, "after a rate limit")
    assert result.returncode == 0, result.stderr
    statuses = [r["status"] for r in served.control("GET", "requests").json()["requests"]]
    assert statuses == [429, 201]
    rows = page.locator("#request-rows tr")
    expect(rows.filter(has_text="429")).to_have_count(1)
    expect(rows.filter(has_text="429")).to_contain_text("20429")
    expect(rows.filter(has_text="201")).to_have_count(1)
    expect(page.locator("#armed-list")).to_contain_text("Nothing armed")


def test_fail_next_send_makes_the_next_send_exit_4_with_nothing_created_then_0(
    page: Page, served: Served
) -> None:
    page.get_by_role("button", name="Fail next send").click()
    expect(page.locator("#armed-list")).to_contain_text("500")
    failed = send(served, ALICE, "struck by a 500")
    assert failed.returncode == 4, failed.stderr
    assert served.listed() == []
    expect(page.locator("#request-rows tr").filter(has_text="500")).to_have_count(1)
    after = send(served, ALICE, "the one after")
    assert after.returncode == 0, after.stderr
    assert [m["body"] for m in served.listed()] == ["the one after"]
    expect(page.locator("#message-list")).to_contain_text("the one after")


def test_a_recipient_marked_undelivered_ends_undelivered_on_the_page(
    page: Page, served: Served
) -> None:
    page.get_by_label("Recipient whose messages end undelivered").fill(CAROL)
    page.get_by_role("button", name="Mark undelivered").click()
    expect(page.locator("#armed-list")).to_contain_text(f"Messages to {CAROL} end undelivered")
    served.create(CAROL, "will not arrive")
    message = page.locator("#message-list li.message")
    expect(message.locator(".history")).to_contain_text("undelivered")
    expect(message).to_contain_text("30003")


def test_search_filters_conversations_by_number_and_by_text(page: Page, served: Served) -> None:
    served.create(ALICE, "Your parcel is on its way")
    served.create(BOB, "Dinner at eight?")
    threads = page.locator("#thread-list button")
    expect(threads).to_have_count(2)
    search = page.get_by_label("Search by number or text")
    search.fill(BOB[-4:])
    expect(threads).to_have_count(1)
    expect(threads).to_contain_text(BOB)
    search.fill("parcel")
    expect(threads).to_have_count(1)
    expect(threads).to_contain_text(ALICE)
    expect(page.locator("#message-list")).to_contain_text("Your parcel is on its way")
    search.fill("nothing like this")
    expect(threads).to_have_count(0)
    search.fill("")
    expect(threads).to_have_count(2)


def test_hundreds_of_conversations_arriving_at_once_are_all_counted_and_the_newest_listed(
    page: Page, served: Served
) -> None:
    session = requests.Session()
    session.auth = (served.account_sid, served.auth_token)
    for n in range(300):
        form = {"To": f"+1555{n:07d}", "From": OWN, "Body": f"message {n}"}
        assert session.post(served.messages_url, data=form, timeout=10).status_code == 201
    expect(page.locator("#thread-count")).to_contain_text("300 conversations", timeout=15_000)
    expect(page.locator("#thread-list button")).to_have_count(200)
    expect(page.locator("#thread-list button").first).to_contain_text("message 299")
    page.get_by_label("Search by number or text").fill("message 7")
    expect(page.locator("#thread-count")).to_contain_text("11 of 300 conversations match")


def test_clear_all_resets_the_sandbox_and_empties_the_page(page: Page, served: Served) -> None:
    served.create(ALICE, "to be cleared")
    expect(page.locator("#thread-list button")).to_have_count(1)
    page.get_by_role("button", name="Clear all").click()
    expect(page.locator("#thread-list button")).to_have_count(0)
    assert served.listed() == []


def test_keyboard_alone_selects_a_conversation_and_sends_a_reply(
    page: Page, served: Served
) -> None:
    served.create(ALICE, "first")
    served.create(BOB, "second")
    expect(page.locator("#thread-list button")).to_have_count(2)

    def tab_to(name: str) -> None:
        for _ in range(40):
            page.keyboard.press("Tab")
            focused = page.evaluate(
                "document.activeElement.getAttribute('aria-label') || "
                "(document.activeElement.labels && document.activeElement.labels[0] "
                "&& document.activeElement.labels[0].textContent) || "
                "document.activeElement.textContent"
            )
            if name in (focused or ""):
                return
        raise AssertionError(f"Tab never reached {name!r}")

    tab_to(ALICE)
    page.keyboard.press("Enter")
    expect(page.locator("#conversation-title")).to_contain_text(ALICE)
    tab_to("Reply")
    page.keyboard.type("typed without a mouse")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#message-list li.inbound")).to_contain_text("typed without a mouse")
    assert [m["body"] for m in served.listed(From=ALICE)] == ["typed without a mouse"]
    tab_to("Rate limit next send")
    page.keyboard.press("Space")
    expect(page.locator("#armed-list")).to_contain_text("429")


def test_arrivals_are_announced_in_a_live_region(page: Page, served: Served) -> None:
    served.create(ALICE, "announce me")
    region = page.locator("[aria-live]")
    expect(region).to_have_count(1)
    expect(region).to_contain_text("announce me")


def test_the_page_has_landmarks_and_every_control_a_name(page: Page, served: Served) -> None:
    served.create(ALICE, "name check")
    expect(page.locator("#thread-list button")).to_have_count(1)
    for role in ("banner", "navigation", "main", "complementary", "contentinfo", "search"):
        expect(page.get_by_role(role)).to_have_count(1)
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('button, input, textarea, select')]
        .filter((control) => !control.closest('[hidden]'))
        .filter((control) => !(control.labels && control.labels.length)
            && !control.getAttribute('aria-label') && !control.textContent.trim())
        .map((control) => control.outerHTML)"""
    )
    assert unnamed == []


def test_a_workflow_s_auto_reply_shows_in_the_conversation_the_console_started(
    browser: Browser,
) -> None:
    workflow = str(REPOSITORY / "examples" / "auto_reply.json")
    listening = subprocess.Popen(
        [sys.executable, "-m", "twilio_component", "listen", workflow, "--sandbox"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")},
    )
    context = browser.new_context()
    try:
        assert listening.stdout is not None
        first = json.loads(listening.stdout.readline())
        opened = context.new_page()
        opened.goto(first["console_url"])
        expect(opened.locator("#connection")).to_have_attribute("data-state", "live")
        opened.get_by_text("Text the sandbox from a new number").click()
        opened.get_by_label("From (the phone)").fill(CAROL)
        opened.get_by_label("Message", exact=True).fill("Is the shop open?")
        opened.get_by_role("button", name="Send as this phone").click()
        expect(opened.locator("#webhook-answer")).to_contain_text("answered 200")
        expect(opened.locator("#message-list li.outbound")).to_contain_text(
            "Thanks, we got your message: Is the shop open?"
        )
    finally:
        context.close()
        listening.send_signal(signal.SIGINT)
        assert listening.wait(timeout=30) == 0


def test_an_interrupted_sandbox_exits_with_the_page_open_and_the_page_says_so(
    browser: Browser,
) -> None:
    with sandbox_process() as short_lived:
        context = browser.new_context()
        try:
            opened = context.new_page()
            opened.goto(short_lived.console_url)
            connection = opened.locator("#connection")
            expect(connection).to_have_attribute("data-state", "live")
            assert short_lived.process is not None
            short_lived.process.send_signal(signal.SIGINT)
            assert short_lived.process.wait(timeout=10) == 0
            expect(connection).not_to_have_attribute("data-state", "live")
        finally:
            context.close()


def test_axe_finds_no_serious_or_critical_accessibility_violation(
    browser: Browser, served: Served
) -> None:
    assert served.control("POST", "reset").status_code == 204
    context = browser.new_context(bypass_csp=True)  # lets the test inject axe's script
    try:
        checked = context.new_page()
        checked.goto(served.console_url)
        expect(checked.locator("#connection")).to_have_attribute("data-state", "live")
        served.create(ALICE, "checked by axe")
        served.control("POST", "faults", {"kind": "rate_limit"})
        served.control("POST", "faults", {"kind": "undelivered", "to": CAROL})
        expect(checked.locator("#message-list")).to_contain_text("checked by axe")
        checked.get_by_label("Reply", exact=True).fill("and its reply")
        checked.get_by_role("button", name="Send reply").click()
        expect(checked.locator("#webhook-answer")).to_contain_text("Stored as")
        checked.get_by_text("Text the sandbox from a new number").click()
        expect(checked.get_by_label("From (the phone)")).to_be_visible()
        checked.add_script_tag(content=AXE.read_text(encoding="utf-8"))
        results = checked.evaluate("async () => await axe.run(document)")
    finally:
        context.close()
    serious = [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"] for n in v["nodes"]]}
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], json.dumps(serious, indent=2)
    assert results["passes"], "axe ran no check at all"


def test_a_screenshot_of_a_busy_console_is_written_as_a_test_artifact(
    page: Page, served: Served, webhook: str
) -> None:
    """The scene of docs/console.png (copied from test-artifacts/console.png)."""
    served.create(ALICE, "Your verification code is 481516. It expires in 10 minutes.")
    served.create(BOB, "Reminder: dentist appointment on Tuesday at 9:30.")
    served.control("POST", "faults", {"kind": "undelivered", "to": CAROL})
    served.create(CAROL, "Your table for two is booked for 8 pm.")
    served.control("POST", "faults", {"kind": "rate_limit"})
    assert send(served, BOB, "Reply C to confirm, R to reschedule.").returncode == 0
    thread(page, ALICE).click()
    page.get_by_label("Reply", exact=True).fill("Thanks! Got it.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator("#webhook-answer")).to_contain_text("answered 200")
    served.create(ALICE, "Olá Ana, a sua encomenda nº 1042 chega amanhã às 10h.")
    messages = page.locator("#message-list li.message")
    expect(messages).to_have_count(4)  # the code, the reply, the webhook's TwiML answer, Olá
    expect(messages.last.locator(".history")).to_contain_text("delivered")
    expect(page.locator("#request-rows tr").filter(has_text="429")).to_have_count(1)
    page.locator("#reply").blur()
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "console.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_a_verification_shows_in_its_conversation_with_its_status(
    page: Page, served: Served
) -> None:
    auth = (served.account_sid, served.auth_token)
    verify = f"{served.base_url}/v2/Services"
    sid = requests.post(verify, data={"FriendlyName": "Shop"}, auth=auth, timeout=30).json()["sid"]
    started = {"To": ALICE, "Channel": "sms"}
    requests.post(f"{verify}/{sid}/Verifications", data=started, auth=auth, timeout=30)
    thread(page, ALICE).click()
    verification = page.locator("#message-list li.verification")
    expect(verification).to_contain_text("pending")
    code = served.control("GET", "verifications").json()["verifications"][0]["code"]
    checked = {"To": ALICE, "Code": code}
    requests.post(f"{verify}/{sid}/VerificationCheck", data=checked, auth=auth, timeout=30)
    expect(verification).to_contain_text("approved")
    expect(page.locator("#message-list li.message")).to_contain_text(code)


def test_a_call_from_the_console_shows_in_its_conversation_with_its_transcript(
    page: Page, served: Served
) -> None:
    answer = "<Response><Say>Welcome to the shop.</Say><Hangup/></Response>"
    number = served.control("GET", "numbers").json()["numbers"][0]["phone_number"]
    twiml = _TwiMLApp.answer
    _TwiMLApp.answer = answer.encode()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TwiMLApp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        numbers = f"{served.base_url}/2010-04-01/Accounts/{served.account_sid}/IncomingPhoneNumbers"
        auth = (served.account_sid, served.auth_token)
        (resource,) = requests.get(
            f"{numbers}.json", params={"PhoneNumber": number}, auth=auth, timeout=30
        ).json()["incoming_phone_numbers"]
        voice_url = f"http://127.0.0.1:{server.server_address[1]}/voice"
        requests.post(
            f"{numbers}/{resource['sid']}.json", data={"VoiceUrl": voice_url}, auth=auth, timeout=30
        ).raise_for_status()
        page.locator("#call summary").click()
        page.fill("#call-from", ALICE)
        page.locator("#call-form button[type=submit]").click()
        expect(page.locator("#call-result")).to_contain_text("ended completed")
        call = page.locator("#message-list li.call")
        expect(call).to_contain_text('Said: "Welcome to the shop."')
        expect(call.locator(".history")).to_contain_text("completed")
    finally:
        _TwiMLApp.answer = twiml
        server.shutdown()
        server.server_close()
        requests.post(
            f"{numbers}/{resource['sid']}.json", data={"VoiceUrl": ""}, auth=auth, timeout=30
        )
