"""The reading and Verify actions on the component side: read-only marks, Verify's and Lookup's own
hosts, checks before anything is sent, and reading messages back from the sandbox."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import FROM, TO, Cli, sms_step

from twilio_component.describe import palette_entry
from twilio_component.host import Host
from twilio_component.sandbox import Sandbox
from twilio_component.twilio.endpoint import base_url_from_environment, product_base_url
from twilio_component.twilio.output import date_time

READ_ONLY = {"lookupPhoneNumber", "getMessage", "listMessages"}


def test_the_palette_marks_exactly_the_reading_actions_read_only(host: Host) -> None:
    (twilio,) = [c for c in host.components if c.descriptor.name == "twilio"]
    actions = palette_entry(twilio.descriptor)["actions"]
    marked = {a["name"] for a in actions if a.get("metadata", {}).get("readOnly")}
    assert marked == READ_ONLY
    assert {"startVerification", "checkVerification"} <= {a["name"] for a in actions}


@pytest.mark.parametrize(
    ("environ", "verify"),
    [
        ({}, "https://verify.twilio.com"),
        ({"TWILIO_REGION": "au1"}, "https://verify.au1.twilio.com"),
        ({"TWILIO_REGION": "au1", "TWILIO_EDGE": "sydney"}, "https://verify.sydney.au1.twilio.com"),
        ({"TWILIO_EDGE": "dublin"}, "https://verify.dublin.us1.twilio.com"),
        ({"TWILIO_API_BASE_URL": "http://127.0.0.1:8099"}, "http://127.0.0.1:8099"),
    ],
)
def test_verify_and_lookup_have_their_own_hosts_routed_like_the_sdks(
    environ: dict[str, str], verify: str
) -> None:
    api = base_url_from_environment(environ)
    assert product_base_url(api, "verify") == verify
    assert product_base_url(api, "lookups") == verify.replace("verify", "lookups")


def test_a_proxy_or_sandbox_root_serves_every_product_itself() -> None:
    assert product_base_url("https://twilio-proxy.example.com/api", "verify") == (
        "https://twilio-proxy.example.com/api"
    )
    assert product_base_url("https://api.twilio.com.evil.example", "verify") == (
        "https://api.twilio.com.evil.example"
    )


def test_verify_dates_in_iso_8601_map_like_the_apis_rfc_2822_ones() -> None:
    assert date_time("2015-07-30T20:00:00Z") == {"dateTime": "2015-07-30T20:00:00", "zoneId": "Z"}
    assert date_time("Thu, 30 Jul 2015 20:00:00 +0000") == date_time("2015-07-30T20:00:00Z")
    assert date_time("2015-07-30T22:00:00+02:00") == {
        "dateTime": "2015-07-30T22:00:00",
        "zoneId": "+02:00",
    }


def check(host: Host, action: str, **parameters: Any) -> dict[str, str]:
    step = {"type": f"twilio/v1/{action}", "parameters": parameters}
    return {p.path: p.reason for p in host.check_step(step)}


SERVICE = "VA" + "0" * 32


def test_a_check_needs_exactly_one_of_to_and_verification_sid(host: Host) -> None:
    assert "To" in check(host, "checkVerification", ServiceSid=SERVICE, Code="1234")
    both = check(
        host, "checkVerification", ServiceSid=SERVICE, Code="1234", To=TO,
        VerificationSid="VE" + "1" * 32,
    )  # fmt: skip
    assert list(both) == ["VerificationSid"]
    assert check(host, "checkVerification", ServiceSid=SERVICE, Code="1234", To=TO) == {}


def test_codes_are_4_to_10_characters_and_channels_are_named(host: Host) -> None:
    assert (
        "4 to 10" in check(host, "checkVerification", ServiceSid=SERVICE, Code="12", To=TO)["Code"]
    )
    found = check(host, "startVerification", ServiceSid=SERVICE, To=TO, Channel="pigeon")
    assert list(found) == ["Channel"]


def test_lookup_checks_the_country_code_and_the_packages(host: Host) -> None:
    found = check(
        host, "lookupPhoneNumber", PhoneNumber="(415) 867-5309", CountryCode="us",
        Fields=["line_type_intelligence", "horoscope"],
    )  # fmt: skip
    assert set(found) == {"CountryCode", "Fields[1]"}


def test_get_message_reads_a_sent_message_back_as_the_20_key_output(
    host: Host, twilio_sandbox: Sandbox
) -> None:
    sent = host.execute(sms_step(), connection=twilio_sandbox.connection)
    step = {"type": "twilio/v1/getMessage", "parameters": {"Sid": sent["sid"]}}
    read = host.execute(step, connection=twilio_sandbox.connection)
    assert list(read) == list(sent)
    assert len(read) == 20
    assert (read["sid"], read["body"], read["to"]) == (sent["sid"], sent["body"], TO)


def test_list_messages_filters_by_to_newest_first_up_to_the_limit(
    host: Host, twilio_sandbox: Sandbox
) -> None:
    other = "+15558675311"
    sids = [
        host.execute(sms_step(To=to), connection=twilio_sandbox.connection)["sid"]
        for to in (TO, other, TO, TO)
    ]
    step: dict[str, Any] = {"type": "twilio/v1/listMessages", "parameters": {"To": TO}}
    listed = host.execute(step, connection=twilio_sandbox.connection)["messages"]
    assert [m["sid"] for m in listed] == [sids[3], sids[2], sids[0]]
    assert all(m["to"] == TO and m["from"] == {"rawNumber": FROM} for m in listed)
    step["parameters"]["Limit"] = 2
    assert len(host.execute(step, connection=twilio_sandbox.connection)["messages"]) == 2


def test_send_runs_a_reading_action_and_prints_its_output(
    cli: Cli, twilio_sandbox: Sandbox, host: Host
) -> None:
    sent = host.execute(sms_step(), connection=twilio_sandbox.connection)
    result = cli("send", "--action", "getMessage", "--param", f"Sid={sent['sid']}")
    assert result.code == 0, result.err
    assert result.json()["sid"] == sent["sid"]
