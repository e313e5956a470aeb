"""Lookup v2 on the sandbox, from libphonenumber's data: the official library and the lookup
command read numbers as Twilio answers them; campaigns skip landlines with it."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from conftest import FROM, Cli
from openapi_products import assert_valid_product_response
from twilio.rest import Client

from twilio_component.sandbox import Sandbox

SPEC = "twilio_lookups_v2.json"
LONDON = "+442079460958"


@pytest.fixture
def sdk(twilio_sandbox: Sandbox) -> Client:
    client = Client(twilio_sandbox.account_sid, twilio_sandbox.auth_token, environment={})
    client.lookups.base_url = twilio_sandbox.base_url
    return client


def test_a_national_number_with_its_country_is_valid_with_its_formats(cli: Cli) -> None:
    result = cli("lookup", "(415) 867-5309", "--country", "US")
    assert result.code == 0, result.err
    found = result.json()
    assert (found["phoneNumber"], found["nationalFormat"]) == ("+14158675309", "(415) 867-5309")
    assert (found["countryCode"], found["callingCountryCode"], found["valid"]) == ("US", "1", True)


def test_an_invalid_number_is_valid_false_with_its_validation_errors(cli: Cli) -> None:
    found = cli("lookup", "+141599299600").json()
    assert (found["valid"], found["validationErrors"]) == (False, ["TOO_LONG"])
    assert cli("lookup", "415-867-53", "--country", "US").json()["validationErrors"] == [
        "TOO_SHORT"
    ]


def test_a_london_landline_gets_its_line_type(cli: Cli) -> None:
    found = cli("lookup", LONDON, "--fields", "line_type_intelligence").json()
    assert (found["countryCode"], found["lineType"]) == ("GB", "landline")
    assert cli("lookup", LONDON).json()["lineType"] is None  # not asked: not looked up


def test_the_official_library_looks_numbers_up(sdk: Client) -> None:
    found = sdk.lookups.v2.phone_numbers(LONDON).fetch(fields="line_type_intelligence")
    assert (found.valid, found.country_code, found.national_format) == (True, "GB", "020 7946 0958")
    assert found.line_type_intelligence["type"] == "landline"
    national = sdk.lookups.v2.phone_numbers("(415) 867-5309").fetch(country_code="US")
    assert national.phone_number == "+14158675309"


@pytest.mark.parametrize(
    ("number", "query"),
    [(LONDON, "?Fields=line_type_intelligence"), ("+141599299600", ""), ("hello", "")],
)
def test_answers_match_the_official_description(
    twilio_sandbox: Sandbox, number: str, query: str
) -> None:
    answer = requests.get(
        f"{twilio_sandbox.base_url}/v2/PhoneNumbers/{quote(number)}{query}",
        auth=(twilio_sandbox.account_sid, twilio_sandbox.auth_token),
        timeout=30,
    )
    assert answer.status_code == 200
    path = "/v2/PhoneNumbers/{PhoneNumber}"
    assert_valid_product_response(SPEC, path, "get", 200, answer.json())


def test_a_campaign_skips_a_london_landline_and_reports_it(
    cli: Cli, twilio_sandbox: Sandbox, tmp_path: Path
) -> None:
    rows = tmp_path / "r.csv"
    rows.write_text(f"phone\n{LONDON}\n+14158675309\n", encoding="utf-8")
    step = tmp_path / "step.json"
    parameters = {"To": "${row.phone}", "From": FROM, "Body": "Sale"}
    step.write_text(json.dumps({"type": "twilio/v1/sendSMS", "parameters": parameters}))
    journal = str(tmp_path / "j.db")
    argv = ("campaign", "send", str(rows), "--step", str(step), "--campaign", "c")
    done = cli(*argv, "--skip-landlines", "--journal", journal)
    assert done.code == 0, done.err
    summary = done.json()
    assert (summary["sent"], summary["skipped_landline"]) == (1, 1)
    assert [m["to"] for m in twilio_sandbox.messages] == ["+14158675309"]
    report = cli("campaign", "report", "c", "--journal", journal).out
    states = {row["to"]: row["state"] for row in csv.DictReader(io.StringIO(report))}
    assert states[LONDON] == "skipped_landline"
    lookups = [r for r in twilio_sandbox.requests if r.path.startswith("/v2/PhoneNumbers/")]
    assert len(lookups) == 2
    cli(*argv, "--skip-landlines", "--journal", journal)
    lookups = [r for r in twilio_sandbox.requests if r.path.startswith("/v2/PhoneNumbers/")]
    assert len(lookups) == 2  # each recipient looked up once, then read from the journal
