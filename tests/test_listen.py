"""``listen``: a sandbox process, a listening workflow, and webhooks as Twilio sends them."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator
from twilio.rest import Client

EXAMPLES = Path(__file__).parent.parent / "examples"
NUMBER = "+15005550006"
CALLER = "+15558675310"


@dataclass
class Process:
    process: subprocess.Popen[str]
    first: dict[str, Any]

    def lines(self) -> list[dict[str, Any]]:
        """Every JSON line printed after the first, once the process has ended."""
        out, _ = self.process.communicate(timeout=30)
        return [json.loads(line) for line in out.splitlines() if line.strip()]


def start(*argv: str, env: dict[str, str] | None = None) -> Process:
    process = subprocess.Popen(
        [sys.executable, "-m", "twilio_component", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.kill()
        raise AssertionError(f"{argv[0]} printed nothing: {process.communicate()[1]}")
    return Process(process, json.loads(line))


def stop(process: Process, sig: int = signal.SIGINT) -> int:
    process.process.send_signal(sig)
    return process.process.wait(timeout=30)


@pytest.fixture
def sandbox() -> Iterator[Process]:
    started = start("sandbox")
    yield started
    if started.process.poll() is None:
        stop(started)


def control(sandbox: Process, method: str, path: str, body: Any = None) -> Any:
    details = sandbox.first
    pair = f"{details['account_sid']}:{details['auth_token']}".encode()
    request = urllib.request.Request(
        f"{details['base_url']}/_sandbox/{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={
            "Authorization": "Basic " + base64.b64encode(pair).decode(),
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        text = answer.read()
    return json.loads(text) if text else None


def sdk(sandbox: Process) -> Client:
    details = sandbox.first
    client = Client(details["account_sid"], details["auth_token"], environment={})
    client.api.base_url = details["base_url"]
    return client


def environment(sandbox: Process) -> dict[str, str]:
    details = sandbox.first
    return {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith("TWILIO_") or k.startswith("TWILIO_COMPONENT_")
        },
        "TWILIO_ACCOUNT_SID": details["account_sid"],
        "TWILIO_AUTH_TOKEN": details["auth_token"],
        "TWILIO_API_BASE_URL": details["base_url"],
    }


def listen(sandbox: Process, *argv: str) -> Process:
    return start("listen", str(EXAMPLES / "auto_reply.json"), *argv, env=environment(sandbox))


def replies(sandbox: Process) -> list[dict[str, Any]]:
    messages = control(sandbox, "GET", "messages")["messages"]
    return [m for m in messages if m["direction"] != "inbound"]


def post(url: str, fields: dict[str, str], signature: str | None) -> tuple[int, str, bytes]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    request = urllib.request.Request(url, data=urlencode(fields).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.headers["Content-Type"], refused.read()


def webhook(
    sid: str = "SM" + "c" * 32, body: str = "hello", *, to: str = NUMBER, account: str = ""
) -> dict[str, str]:
    """An incoming message's webhook fields (AccountSid only when given)."""
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        **({"AccountSid": account} if account else {}),
        "From": CALLER,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "SmsStatus": "received",
    }


def test_listen_points_the_numbers_sms_url_at_its_webhook_url(sandbox: Process) -> None:
    listening = listen(sandbox)
    try:
        number = sdk(sandbox).incoming_phone_numbers.list(phone_number=NUMBER)[0]
        assert number.sms_url == listening.first["webhook_url"]
        assert listening.first["local_url"] == listening.first["webhook_url"]
    finally:
        stop(listening)


def test_an_injected_incoming_sms_gets_twiml_and_exactly_one_reply(sandbox: Process) -> None:
    listening = listen(sandbox)
    try:
        answer = control(sandbox, "POST", "inbound", {"From": CALLER, "To": NUMBER, "Body": "hey"})
        (delivery,) = answer["deliveries"]
        assert delivery["status"] == 200
        assert delivery["content_type"].startswith("text/xml")
        assert "<Response" in delivery["body"]
        (reply,) = replies(sandbox)
        assert (reply["to"], reply["from"]) == (CALLER, NUMBER)
        assert "hey" in reply["body"]
    finally:
        assert stop(listening) == 0
    (run,) = listening.lines()
    assert run["event"] == answer["sid"]
    assert run["tasks"]["reply"]["sid"] == reply["sid"]


def test_a_webhook_delivered_three_times_runs_the_workflow_once(sandbox: Process) -> None:
    listening = listen(sandbox)
    try:
        answer = control(
            sandbox, "POST", "inbound", {"From": CALLER, "To": NUMBER, "Body": "x", "Repeat": 3}
        )
        assert [d["status"] for d in answer["deliveries"]] == [200, 200, 200]
        assert len(replies(sandbox)) == 1
    finally:
        stop(listening)


def test_a_wrong_or_missing_signature_is_403_and_sends_no_reply(sandbox: Process) -> None:
    listening = listen(sandbox)
    url = listening.first["webhook_url"]
    try:
        wrong = RequestValidator("0" * 32).compute_signature(url, webhook())
        assert post(url, webhook(), wrong)[0] == 403
        assert post(url, webhook(), None)[0] == 403
        assert replies(sandbox) == []
    finally:
        stop(listening)


def test_a_signed_webhook_sent_twice_is_answered_twice_and_replied_to_once(
    sandbox: Process,
) -> None:
    listening = listen(sandbox)
    url = listening.first["webhook_url"]
    token = sandbox.first["auth_token"]
    try:
        signature = RequestValidator(token).compute_signature(url, webhook())
        first, again = post(url, webhook(), signature), post(url, webhook(), signature)
        assert (first[0], again[0]) == (200, 200)
        assert first[1].startswith("text/xml")
        assert len(replies(sandbox)) == 1
    finally:
        stop(listening)


@pytest.mark.parametrize(
    "other",
    [{"to": "+15005550007"}, {"account": "AC" + "9" * 32}],
    ids=["another-number", "another-account"],
)
def test_a_validly_signed_webhook_for_another_number_or_account_is_403_and_runs_nothing(
    sandbox: Process, other: dict[str, str]
) -> None:
    listening = listen(sandbox)
    url = listening.first["webhook_url"]
    fields = webhook(**other)
    signature = RequestValidator(sandbox.first["auth_token"]).compute_signature(url, fields)
    try:
        assert post(url, fields, signature)[0] == 403
        assert replies(sandbox) == []
        own = webhook(account=sandbox.first["account_sid"])
        assert (
            post(
                url, own, RequestValidator(sandbox.first["auth_token"]).compute_signature(url, own)
            )[0]
            == 200
        )
    finally:
        stop(listening)
    assert listening.lines() != []


def test_behind_a_public_url_only_its_signature_is_accepted(sandbox: Process) -> None:
    public = "https://hooks.example.com/twilio/sms"
    listening = listen(sandbox, "--public-url", public)
    local = listening.first["local_url"]
    token = sandbox.first["auth_token"]
    try:
        assert listening.first["webhook_url"] == public
        assert local.endswith("/twilio/sms")
        over_local = RequestValidator(token).compute_signature(local, webhook())
        assert post(local, webhook(), over_local)[0] == 403
        over_public = RequestValidator(token).compute_signature(public, webhook())
        assert post(local, webhook(), over_public)[0] == 200
        assert len(replies(sandbox)) == 1
    finally:
        stop(listening)


def test_a_taken_over_webhook_is_put_back_by_the_next_listen_after_a_sigkill(
    sandbox: Process,
) -> None:
    client = sdk(sandbox)
    number = client.incoming_phone_numbers.list(phone_number=NUMBER)[0]
    original = "https://example.com/original-sms-webhook"
    client.incoming_phone_numbers(number.sid).update(sms_url=original, sms_method="POST")
    killed = listen(sandbox, "--take-over")
    assert client.incoming_phone_numbers(number.sid).fetch().sms_url == killed.first["webhook_url"]
    stop(killed, signal.SIGKILL)  # no chance to restore anything
    again = listen(sandbox, "--take-over")
    assert client.incoming_phone_numbers(number.sid).fetch().sms_url == again.first["webhook_url"]
    assert stop(again) == 0
    assert client.incoming_phone_numbers(number.sid).fetch().sms_url == original
    _, err = again.process.communicate(timeout=30)
    assert "put back the webhook an earlier listener had replaced" in err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_exits_0_and_puts_the_old_sms_url_back(sandbox: Process, sig: int) -> None:
    client = sdk(sandbox)
    number = client.incoming_phone_numbers.list(phone_number=NUMBER)[0]
    client.incoming_phone_numbers(number.sid).update(
        sms_url="http://127.0.0.1:9/before", sms_method="GET"
    )
    listening = listen(sandbox, "--take-over")
    assert client.incoming_phone_numbers(number.sid).fetch().sms_url != "http://127.0.0.1:9/before"
    assert stop(listening, sig) == 0
    restored = client.incoming_phone_numbers(number.sid).fetch()
    assert (restored.sms_url, restored.sms_method) == ("http://127.0.0.1:9/before", "GET")


def test_a_number_whose_webhook_points_elsewhere_is_not_taken_over(sandbox: Process) -> None:
    client = sdk(sandbox)
    number = client.incoming_phone_numbers.list(phone_number=NUMBER)[0]
    client.incoming_phone_numbers(number.sid).update(sms_url="https://example.com/theirs")
    done = subprocess.run(
        [sys.executable, "-m", "twilio_component", "listen", str(EXAMPLES / "auto_reply.json")],
        env=environment(sandbox),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "https://example.com/theirs" in done.stderr
    assert "--take-over" in done.stderr
    assert client.incoming_phone_numbers(number.sid).fetch().sms_url == "https://example.com/theirs"


def test_status_callbacks_out_of_order_emit_delivered_once_and_not_sent_after_it(
    sandbox: Process, tmp_path: Path
) -> None:
    workflow = {
        "trigger": {"type": "twilio/v1/messageStatus", "parameters": {}},
        "tasks": [
            {
                "name": "notify",
                "type": "twilio/v1/sendSMS",
                "parameters": {
                    "To": CALLER,
                    "From": NUMBER,
                    "Body": "${trigger.messageSid} is ${trigger.messageStatus}",
                },
            }
        ],
    }
    path = tmp_path / "status.json"
    path.write_text(json.dumps(workflow), encoding="utf-8")
    listening = start("listen", str(path), env=environment(sandbox))
    url = listening.first["webhook_url"]
    validator = RequestValidator(sandbox.first["auth_token"])
    sid = "SM" + "d" * 32
    try:
        for status in ("delivered", "sent", "delivered"):
            fields = {
                "MessageSid": sid,
                "MessageStatus": status,
                "To": CALLER,
                "From": NUMBER,
                "AccountSid": sandbox.first["account_sid"],
            }
            assert post(url, fields, validator.compute_signature(url, fields))[0] == 200
    finally:
        assert stop(listening) == 0
    assert [r["event"] for r in listening.lines()] == [sid]
    (notice,) = replies(sandbox)
    assert notice["body"] == f"{sid} is delivered"


def test_a_workflow_with_a_trigger_is_refused_by_run(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "twilio_component",
            "run",
            "--sandbox",
            str(EXAMPLES / "auto_reply.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "listen" in done.stderr


def test_listen_with_the_embedded_sandbox_prints_its_credentials() -> None:
    listening = start("listen", str(EXAMPLES / "auto_reply.json"), "--sandbox")
    try:
        assert {"webhook_url", "local_url", "base_url", "account_sid", "auth_token"} <= set(
            listening.first
        )
        assert listening.first["auth_token"] != "********"
    finally:
        assert stop(listening) == 0


def test_listen_with_the_embedded_sandbox_prints_the_console_of_that_sandbox() -> None:
    listening = start("listen", str(EXAMPLES / "auto_reply.json"), "--sandbox")
    try:
        console_url = listening.first["console_url"]
        assert console_url.startswith(f"{listening.first['base_url']}/_console/?token=")
        with urllib.request.urlopen(console_url, timeout=5) as page:
            assert page.status == 200
    finally:
        assert stop(listening) == 0


def test_a_webhook_changed_while_listening_is_left_as_it_is_on_stop(sandbox: Process) -> None:
    client = sdk(sandbox)
    number = client.incoming_phone_numbers.list(phone_number=NUMBER)[0]
    listening = listen(sandbox)
    client.incoming_phone_numbers(number.sid).update(sms_url="https://example.com/changed")
    assert stop(listening) == 0
    assert "left as it is" in listening.process.communicate()[1]
    assert (
        client.incoming_phone_numbers(number.sid).fetch().sms_url == "https://example.com/changed"
    )


def test_an_api_key_connection_is_refused_before_anything_is_registered(
    sandbox: Process,
) -> None:
    env = environment(sandbox)
    del env["TWILIO_AUTH_TOKEN"]
    env["TWILIO_API_KEY"], env["TWILIO_API_SECRET"] = "SK" + "1" * 32, "key-secret-1"
    done = subprocess.run(
        [sys.executable, "-m", "twilio_component", "listen", str(EXAMPLES / "auto_reply.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "Auth Token" in done.stderr
    assert sdk(sandbox).incoming_phone_numbers.list(phone_number=NUMBER)[0].sms_url == ""


def test_a_port_in_use_is_bad_usage_saying_so(sandbox: Process) -> None:
    first = listen(sandbox, "--port", "0")
    port = first.first["local_url"].split(":")[2].split("/")[0]
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "twilio_component",
                "listen",
                str(EXAMPLES / "auto_reply.json"),
                "--port",
                port,
                "--no-register",
            ],
            env=environment(sandbox),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        stop(first)
    assert done.returncode == 2
    assert "cannot listen there" in done.stderr
