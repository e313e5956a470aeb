"""A recipients CSV that cannot be read as one row per recipient is refused before anything is
sent, naming its line or column; so is a campaign ID that is no name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, creates

from twilio_component.sandbox import Sandbox

STEP: dict[str, Any] = {
    "type": "twilio/v1/sendSMS",
    "parameters": {"To": "${row.phone}", "From": "+15005550006", "Body": "Hi ${row.name}"},
}


def campaign_send(
    cli: Cli, tmp_path: Path, text: str, campaign: str = "c1", body: str = "Hi ${row.name}"
) -> tuple[int, str]:
    rows, step = tmp_path / "rows.csv", tmp_path / "step.json"
    rows.write_text(text, encoding="utf-8")
    parameters = {**STEP["parameters"], "Body": body}
    step.write_text(json.dumps({**STEP, "parameters": parameters}), encoding="utf-8")
    journal = str(tmp_path / "j.db")
    argv = ("campaign", "send", str(rows), "--step", str(step), "--campaign", campaign)
    result = cli(*argv, "--journal", journal, "--mps", "100")
    return result.code, result.err


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('phone,name\n+15558670125,"Hi Ada\n+15558670126,Bob\n', "line 2 opens a quote"),
        ("phone,phone,name\n+15558670125,+15558670126,Ada\n", "'phone' more than once"),
        ("phone,name\n+15558670125,Ada,Lovelace\n", "line 2 has 3 values"),
        ("phone,name\n+15558670125,Ada\n+15558670126,B\x00b\n", "line 3 holds a NUL byte"),
        ("phone,name\n+15558670125,Ada\n+15558670126," + "x" * 200_000 + "\n", "line 3"),
    ],
    ids=["unterminated-quote", "duplicate-column", "extra-values", "nul-byte", "huge-field"],
)
def test_a_csv_that_is_not_one_row_per_recipient_is_refused_naming_where(
    cli: Cli, twilio_sandbox: Sandbox, tmp_path: Path, text: str, named: str
) -> None:
    code, err = campaign_send(cli, tmp_path, text)
    assert code == 2, err
    assert named in err
    assert creates(twilio_sandbox) == 0


def test_a_quoted_value_may_hold_a_line_break(
    cli: Cli, twilio_sandbox: Sandbox, tmp_path: Path
) -> None:
    code, err = campaign_send(cli, tmp_path, 'phone,name\n+15558670125,"Ada\nLovelace"\n')
    assert code == 0, err
    assert [m["body"] for m in twilio_sandbox.messages] == ["Hi Ada\nLovelace"]


@pytest.mark.parametrize("campaign", ["", "  ", "spring/sale", "tab\there"])
def test_a_campaign_id_that_is_no_name_is_refused(
    cli: Cli, twilio_sandbox: Sandbox, tmp_path: Path, campaign: str
) -> None:
    code, err = campaign_send(cli, tmp_path, "phone,name\n+15558670125,Ada\n", campaign)
    assert code == 2
    assert "--campaign" in err
    assert creates(twilio_sandbox) == 0


def test_a_campaign_rerun_with_another_step_is_refused_before_sending(
    cli: Cli, twilio_sandbox: Sandbox, tmp_path: Path
) -> None:
    code, err = campaign_send(cli, tmp_path, "phone,name\n+15558670125,Ada\n")
    assert code == 0, err
    rows = "phone,name\n+15558670125,Ada\n+15558670126,B\n"
    code, err = campaign_send(cli, tmp_path, rows, body="Bye ${row.name}")
    assert code == 2
    assert "was run before with other step and rows" in err
    assert creates(twilio_sandbox) == 1


def test_the_report_of_a_campaign_the_journal_does_not_have_is_bad_usage(
    cli: Cli, twilio_sandbox: Sandbox, tmp_path: Path
) -> None:
    campaign_send(cli, tmp_path, "phone,name\n+15558670125,Ada\n")
    result = cli("campaign", "report", "nosuch", "--journal", str(tmp_path / "j.db"))
    assert result.code == 2
    assert "no campaign 'nosuch'" in result.err
    assert result.out == ""


def test_a_window_without_a_broker_is_refused_naming_the_flag(
    cli: Cli, twilio_sandbox: Sandbox, tmp_path: Path
) -> None:
    rows, step = tmp_path / "rows.csv", tmp_path / "step.json"
    rows.write_text("phone,name\n+15558670125,Ada\n", encoding="utf-8")
    step.write_text(json.dumps(STEP), encoding="utf-8")
    result = cli(
        "campaign", "send", str(rows), "--step", str(step), "--campaign", "w", "--window", "5"
    )
    assert result.code == 2
    assert "--window" in result.err
    assert creates(twilio_sandbox) == 0
