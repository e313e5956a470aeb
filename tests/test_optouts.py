"""Opt-outs: learnt from STOP-family replies and 21610 refusals, kept in the journal by sender,
skipped by campaigns, refused by send --journal, and managed with `optouts`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FROM, TO, Cli, creates, sms_step
from test_trigger_receive import signed

from twilio_component import Host
from twilio_component.consent import OptedOutError
from twilio_component.errors import RefusedError
from twilio_component.journal import open_journal
from twilio_component.sandbox import Sandbox
from twilio_component.twilio.settings import Settings

INCOMING = "twilio/v1/newIncomingSMS"
URL = "https://hooks.example.com/twilio/v1/newIncomingSMS"
OTHER = "+15558675311"
UNSUBSCRIBED = (
    "+15005550004"  # the sandbox refuses messages to it with 21610, as Twilio's test number
)


@pytest.fixture
def journal_path(tmp_path: Path) -> str:
    return str(tmp_path / "journal.db")


@pytest.fixture
def journaled(twilio_sandbox: Sandbox, journal_path: str) -> Iterator[Host]:
    with Host.load(Settings(base_url=twilio_sandbox.base_url, journal=journal_path)) as host:
        yield host


def reply(sandbox: Sandbox, body: str, sender: str = TO, **extra: str) -> Any:
    fields = {
        "MessageSid": "SM" + format(abs(hash((body, sender, *extra.values()))), "032x")[:32],
        "AccountSid": sandbox.account_sid,
        "From": sender,
        "To": FROM,
        "Body": body,
        **extra,
    }
    return signed(fields, URL, token=sandbox.auth_token)


def opted_out(journal_path: str) -> list[tuple[str, str, str]]:
    return [(o.address, o.scope, o.source) for o in open_journal(journal_path).optouts.listed()]


@pytest.mark.parametrize("body", ["  stop ", "STOP", "Unsubscribe", "quit", "stopall", "REVOKE"])
def test_a_stop_family_reply_opts_the_sender_out_of_that_number(
    journaled: Host, twilio_sandbox: Sandbox, journal_path: str, body: str
) -> None:
    journaled.receive(INCOMING, reply(twilio_sandbox, body), connection=twilio_sandbox.connection)
    assert opted_out(journal_path) == [(TO, FROM, "replied")]


@pytest.mark.parametrize("body", ["stop please", "STOP!", "halt", "Stop it now"])
def test_a_longer_reply_or_another_word_opts_nobody_out(
    journaled: Host, twilio_sandbox: Sandbox, journal_path: str, body: str
) -> None:
    journaled.receive(INCOMING, reply(twilio_sandbox, body), connection=twilio_sandbox.connection)
    assert opted_out(journal_path) == []


def test_start_opts_back_in_and_advanced_opt_out_is_read_from_opt_out_type(
    journaled: Host, twilio_sandbox: Sandbox, journal_path: str
) -> None:
    connection = twilio_sandbox.connection
    service = "MG" + "1" * 32
    journaled.receive(INCOMING, reply(twilio_sandbox, "stop"), connection=connection)
    journaled.receive(
        INCOMING,
        reply(twilio_sandbox, "arret", OptOutType="STOP", MessagingServiceSid=service),
        connection=connection,
    )
    assert opted_out(journal_path) == [(TO, FROM, "replied"), (TO, service, "replied")]
    journaled.receive(INCOMING, reply(twilio_sandbox, " Start"), connection=connection)
    assert opted_out(journal_path) == [(TO, service, "replied")]


def test_send_with_the_journal_refuses_an_opted_out_recipient_and_sends_nothing(
    journaled: Host, twilio_sandbox: Sandbox
) -> None:
    open_journal(journaled.settings.journal or "").optouts.add(TO, FROM)
    with pytest.raises(OptedOutError) as refused:
        journaled.execute(sms_step(), connection=twilio_sandbox.connection)
    assert isinstance(refused.value, RefusedError)  # exit 3: Twilio would refuse it too
    assert creates(twilio_sandbox) == 0
    journaled.execute(sms_step(To=OTHER), connection=twilio_sandbox.connection)
    assert not open_journal(journaled.settings.journal or "").optouts.blocks(TO, "+15005550007")


def test_a_21610_refusal_is_remembered_and_the_next_send_is_not_attempted(
    journaled: Host, twilio_sandbox: Sandbox, journal_path: str
) -> None:
    with pytest.raises(Exception, match="21610"):
        journaled.execute(sms_step(To=UNSUBSCRIBED), connection=twilio_sandbox.connection)
    assert opted_out(journal_path) == [(UNSUBSCRIBED, FROM, "refused")]
    with pytest.raises(OptedOutError):
        journaled.execute(sms_step(To=UNSUBSCRIBED), connection=twilio_sandbox.connection)
    assert creates(twilio_sandbox) == 1


def test_the_cli_send_to_an_opted_out_number_is_exit_3(
    cli: Cli, twilio_sandbox: Sandbox, journal_path: str
) -> None:
    assert cli("optouts", "add", TO, "--journal", journal_path).code == 0
    result = cli("send", "--to", TO, "--from", FROM, "--body", "hi", "--journal", journal_path)
    assert result.code == 3
    assert "opted out" in result.err
    assert creates(twilio_sandbox) == 0
    assert cli("optouts", "remove", TO, "--journal", journal_path).code == 0
    again = cli("send", "--to", TO, "--from", FROM, "--body", "hi", "--journal", journal_path)
    assert again.code == 0, again.err


def test_a_campaign_skips_opted_out_recipients_and_reports_them(
    cli: Cli, twilio_sandbox: Sandbox, tmp_path: Path, journal_path: str
) -> None:
    rows = tmp_path / "r.csv"
    rows.write_text(f"phone\n{TO}\n{OTHER}\n", encoding="utf-8")
    step = tmp_path / "step.json"
    parameters = {"To": "${row.phone}", "From": FROM, "Body": "Sale"}
    step.write_text(json.dumps({"type": "twilio/v1/sendSMS", "parameters": parameters}))
    assert cli("optouts", "add", TO, "--from", FROM, "--journal", journal_path).code == 0
    argv = ("campaign", "send", str(rows), "--step", str(step), "--campaign", "sale")
    done = cli(*argv, "--journal", journal_path)
    assert done.code == 0, done.err
    summary = done.json()
    assert (summary["sent"], summary["opted_out"]) == (1, 1)
    assert [m["to"] for m in twilio_sandbox.messages] == [OTHER]
    report = cli("campaign", "report", "sale", "--journal", journal_path)
    states = {row["to"]: row["state"] for row in csv.DictReader(io.StringIO(report.out))}
    assert states == {TO: "opted_out", OTHER: "sent"}
    status = cli("campaign", "status", "sale", "--journal", journal_path).json()
    assert (status["opted_out"], status["sent"]) == (1, 1)
    again = cli(*argv, "--journal", journal_path).json()
    assert (again["opted_out"], again["already_done"]) == (1, 2)
    assert len(twilio_sandbox.messages) == 1


def test_optouts_export_and_import_round_trip(cli: Cli, tmp_path: Path, journal_path: str) -> None:
    assert cli("optouts", "add", TO, OTHER, "--from", FROM, "--journal", journal_path).code == 0
    exported = cli("optouts", "export", "--journal", journal_path)
    assert exported.code == 0
    saved = tmp_path / "saved.csv"
    saved.write_text(exported.out, encoding="utf-8")
    other_journal = str(tmp_path / "other.db")
    assert cli("optouts", "import", str(saved), "--journal", other_journal).code == 0
    listed = cli("optouts", "list", "--journal", other_journal).json()["optouts"]
    assert {(o["address"], o["scope"]) for o in listed} == {(TO, FROM), (OTHER, FROM)}


def test_an_import_with_a_bad_line_names_it_and_imports_nothing(
    cli: Cli, tmp_path: Path, journal_path: str
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(f"address\n{TO}\n555-1234\n", encoding="utf-8")
    result = cli("optouts", "import", str(bad), "--journal", journal_path)
    assert result.code == 2
    assert "line 3: '555-1234' is not an E.164 number" in result.err
    assert cli("optouts", "list", "--journal", journal_path).json() == {"optouts": []}
