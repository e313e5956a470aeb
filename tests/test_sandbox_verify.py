"""Verify v2 on the sandbox: the official library creates services, starts and checks codes;
lifetimes and limits are Twilio's; the CLI's verify start|check exit codes follow them."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from conftest import Cli
from openapi_products import assert_valid_product_response
from test_sandbox_calls import wait_for
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from twilio_component.sandbox import Sandbox

TO = "+15558675310"
SPEC = "twilio_verify_v2.json"


@pytest.fixture
def sdk(twilio_sandbox: Sandbox) -> Client:
    """The official library, pointed at the sandbox for every product."""
    client = Client(twilio_sandbox.account_sid, twilio_sandbox.auth_token, environment={})
    client.api.base_url = twilio_sandbox.base_url
    client.verify.base_url = twilio_sandbox.base_url
    client.lookups.base_url = twilio_sandbox.base_url
    return client


@pytest.fixture
def service(sdk: Client) -> str:
    return str(sdk.verify.v2.services.create(friendly_name="Shop").sid)


def control(sandbox: Sandbox, method: str, path: str, body: Any = None) -> Any:
    answer = requests.request(
        method,
        f"{sandbox.base_url}/_sandbox/{path}",
        json=body,
        auth=(sandbox.account_sid, sandbox.auth_token),
        timeout=30,
    )
    answer.raise_for_status()
    return answer.json()


def code_of(sandbox: Sandbox) -> str:
    return str(control(sandbox, "GET", "verifications")["verifications"][-1]["code"])


def raw(sandbox: Sandbox, method: str, path: str, **form: str) -> requests.Response:
    return requests.request(
        method,
        f"{sandbox.base_url}{path}",
        data=form,
        auth=(sandbox.account_sid, sandbox.auth_token),
        timeout=30,
    )


def test_the_official_library_starts_and_approves_a_verification(
    sdk: Client, service: str, twilio_sandbox: Sandbox
) -> None:
    started = sdk.verify.v2.services(service).verifications.create(to=TO, channel="sms")
    assert (started.status, started.valid, started.to) == ("pending", False, TO)
    checked = sdk.verify.v2.services(service).verification_checks.create(
        to=TO, code=code_of(twilio_sandbox)
    )
    assert (checked.status, checked.valid) == ("approved", True)


def test_the_code_arrives_as_a_message_with_twilios_template(
    service: str, sdk: Client, twilio_sandbox: Sandbox
) -> None:
    sdk.verify.v2.services(service).verifications.create(to=TO, channel="sms")
    code = code_of(twilio_sandbox)
    (message,) = [m for m in twilio_sandbox.messages if m["to"] == TO]
    assert message["body"] == f"Your Shop verification code is: {code}"
    assert len(code) == 6


def test_answers_match_the_official_description(twilio_sandbox: Sandbox) -> None:
    created = raw(twilio_sandbox, "POST", "/v2/Services", FriendlyName="Shop")
    assert_valid_product_response(SPEC, "/v2/Services", "post", 201, created.json())
    sid = created.json()["sid"]
    path = "/v2/Services/{ServiceSid}/Verifications"
    started = raw(twilio_sandbox, "POST", f"/v2/Services/{sid}/Verifications", To=TO, Channel="sms")
    assert_valid_product_response(SPEC, path, "post", 201, started.json())
    wrong = raw(
        twilio_sandbox, "POST", f"/v2/Services/{sid}/VerificationCheck", To=TO, Code="0000000"
    )
    check_path = "/v2/Services/{ServiceSid}/VerificationCheck"
    assert_valid_product_response(SPEC, check_path, "post", 200, wrong.json())
    assert (wrong.json()["status"], wrong.json()["valid"]) == ("pending", False)
    listed = raw(twilio_sandbox, "GET", "/v2/Services")
    assert_valid_product_response(SPEC, "/v2/Services", "get", 200, listed.json())


def test_a_resend_within_the_lifetime_keeps_the_code_and_the_verification(
    sdk: Client, service: str, twilio_sandbox: Sandbox
) -> None:
    first = sdk.verify.v2.services(service).verifications.create(to=TO, channel="sms")
    code = code_of(twilio_sandbox)
    again = sdk.verify.v2.services(service).verifications.create(to=TO, channel="sms")
    assert (again.sid, code_of(twilio_sandbox)) == (first.sid, code)
    assert len(again.send_code_attempts) == 2


def test_a_checked_code_cannot_be_checked_again(
    sdk: Client, service: str, twilio_sandbox: Sandbox
) -> None:
    checks = sdk.verify.v2.services(service)
    checks.verifications.create(to=TO, channel="sms")
    code = code_of(twilio_sandbox)
    checks.verification_checks.create(to=TO, code=code)
    with pytest.raises(TwilioRestException) as over:
        checks.verification_checks.create(to=TO, code=code)
    assert (over.value.status, over.value.code) == (404, 20404)


def test_the_sixth_wrong_check_is_60202(sdk: Client, service: str) -> None:
    checks = sdk.verify.v2.services(service)
    checks.verifications.create(to=TO, channel="sms")
    answers = []
    for _ in range(6):
        try:
            answers.append(checks.verification_checks.create(to=TO, code="xxxx").status)
        except TwilioRestException as refused:
            answers.append(refused.code)
    assert answers == ["pending"] * 5 + [60202]


def test_a_sixth_send_within_ten_minutes_is_60203(sdk: Client, service: str) -> None:
    starts = sdk.verify.v2.services(service).verifications
    for _ in range(5):
        starts.create(to=TO, channel="sms")
    with pytest.raises(TwilioRestException) as refused:
        starts.create(to=TO, channel="sms")
    assert (refused.value.status, refused.value.code) == (429, 60203)


def test_after_the_clock_moves_601_seconds_the_code_no_longer_works(
    sdk: Client, service: str, twilio_sandbox: Sandbox
) -> None:
    sdk.verify.v2.services(service).verifications.create(to=TO, channel="sms")
    code = code_of(twilio_sandbox)
    control(twilio_sandbox, "POST", "clock", {"advance": 601})
    with pytest.raises(TwilioRestException) as over:
        sdk.verify.v2.services(service).verification_checks.create(to=TO, code=code)
    assert over.value.code == 20404
    assert control(twilio_sandbox, "GET", "verifications")["verifications"][0]["status"] == (
        "expired"
    )


def test_verify_start_and_check_exit_codes(cli: Cli, service: str, twilio_sandbox: Sandbox) -> None:
    started = cli("verify", "start", "--service", service, "--to", TO)
    assert started.code == 0, started.err
    assert started.json()["status"] == "pending"
    wrong = cli("verify", "check", "--service", service, "--to", TO, "--code", "000000x")
    assert wrong.code == 3
    assert wrong.json()["valid"] is False
    right = cli(
        "verify", "check", "--service", service, "--to", TO, "--code", code_of(twilio_sandbox)
    )
    assert right.code == 0, right.err
    assert right.json()["status"] == "approved"
    again = cli("verify", "check", "--service", service, "--to", TO, "--code", "123456")
    assert again.code == 3
    assert "20404" in again.err


def test_the_call_channel_reads_the_code_aloud_in_a_sandbox_call(
    service: str, sdk: Client, twilio_sandbox: Sandbox
) -> None:
    started = sdk.verify.v2.services(service).verifications.create(to=TO, channel="call")
    assert started.channel == "call"
    code = code_of(twilio_sandbox)
    said = f"Your Shop verification code is: {', '.join(code)}."

    def transcript() -> list[dict[str, Any]]:
        calls = [c for c in twilio_sandbox.calls() if c["to"] == TO]
        return calls[0]["transcript"] if calls else []

    wait_for(lambda: {"verb": "Say", "text": said} in transcript(), "the code read aloud")
    assert not [m for m in twilio_sandbox.messages if m["to"] == TO]


def posts(sandbox: Sandbox, resource: str) -> int:
    return sum(1 for r in sandbox.requests if r.method == "POST" and r.path.endswith(resource))


def test_verify_check_reports_60202_on_the_sixth_wrong_code_asking_once(
    cli: Cli, service: str, twilio_sandbox: Sandbox
) -> None:
    assert cli("verify", "start", "--service", service, "--to", TO).code == 0
    for _ in range(6):
        last = cli("verify", "check", "--service", service, "--to", TO, "--code", "000000")
    assert last.code == 3
    assert "60202" in last.err
    assert "start a new one" in last.err
    assert posts(twilio_sandbox, "/VerificationCheck") == 6


def test_verify_start_reports_60203_on_the_sixth_send_asking_once(
    cli: Cli, service: str, twilio_sandbox: Sandbox
) -> None:
    for _ in range(6):
        last = cli("verify", "start", "--service", service, "--to", TO)
    assert last.code == 3
    assert "60203" in last.err
    assert posts(twilio_sandbox, "/Verifications") == 6
