"""A journal target is an SQLite file path or a postgresql:// URL; anything else is refused
before anything is sent (exit 2 naming --journal), and a password is never shown or written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import Cli, creates
from hypothesis import given
from hypothesis import strategies as st

from twilio_component.journal.targets import shown, target_problem
from twilio_component.sandbox import Sandbox

PASSWORD = "PASSWORD-1f2e3d"
SEND = ("send", "--to", "+15558675310", "--from", "+15005550006", "--body", "hi", "--key", "k")


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        (f"postgresql://u:{PASSWORD}@[bad/db", "is not a valid URL"),
        (f"postgresql://u:{PASSWORD}@host:port/db", "is not a valid URL"),
        (f"host=127.0.0.1 password={PASSWORD} dbname=x", "libpq keywords"),
        ("sqlite:steps.db", "sqlite: is not a journal"),
        (f"mysql://u:{PASSWORD}@h/db", "mysql: is not a journal"),
        (f"POSTGRESQL://u:{PASSWORD}@h/db", "lower case"),
        ("postgresql://u@h", "names no database"),
    ],
)
def test_a_target_that_is_no_journal_is_refused_with_why_and_no_password(
    cli: Cli, twilio_sandbox: Sandbox, tmp_path: Path, target: str, why: str
) -> None:
    before = set(os.listdir(tmp_path))
    result = cli(*SEND, "--journal", target)
    assert result.code == 2
    assert "--journal" in result.err
    assert why in result.err
    assert PASSWORD not in result.out + result.err
    assert creates(twilio_sandbox) == 0
    assert set(os.listdir(tmp_path)) == before


def test_a_journal_in_a_folder_that_does_not_exist_is_refused(
    cli: Cli, twilio_sandbox: Sandbox, tmp_path: Path
) -> None:
    result = cli(*SEND, "--journal", str(tmp_path / "missing" / "steps.db"))
    assert result.code == 2
    assert "does not exist" in result.err
    assert creates(twilio_sandbox) == 0


def test_campaign_status_of_an_unknown_campaign_never_shows_the_journals_password(
    cli: Cli, postgres_url: str
) -> None:
    scheme, _, rest = postgres_url.partition("://")
    user, _, place = rest.partition("@")
    with_password = f"{scheme}://{user}:{PASSWORD}@{place}"
    result = cli("campaign", "status", "nosuch", "--journal", with_password)
    assert result.code == 2
    assert "nosuch" in result.err
    assert PASSWORD not in result.out + result.err


@pytest.mark.parametrize("command", ["worker", "resume"])
def test_workers_need_a_postgresql_journal_not_a_file(
    cli: Cli, tmp_path: Path, command: str
) -> None:
    argv = {
        "worker": ("worker", "--broker", "redis://127.0.0.1:1/0"),
        "resume": ("campaign", "resume", "c", "--broker", "redis://127.0.0.1:1/0"),
    }[command]
    for journal in ("", str(tmp_path / "steps.db")):
        result = cli(*argv, "--journal", journal)
        assert result.code == 2, result.err
        assert "--journal" in result.err


def test_campaign_send_with_a_broker_needs_a_postgresql_journal(
    cli: Cli, tmp_path: Path, twilio_sandbox: Sandbox
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("phone\n+15558675310\n", encoding="utf-8")
    step = tmp_path / "step.json"
    step.write_text(
        '{"type": "twilio/v1/sendSMS", "parameters": '
        '{"To": "${row.phone}", "From": "+15005550006", "Body": "hi"}}',
        encoding="utf-8",
    )
    result = cli(
        *("campaign", "send", str(rows), "--step", str(step), "--campaign", "c"),
        *("--broker", "redis://127.0.0.1:1/0", "--journal", str(tmp_path / "steps.db")),
    )
    assert result.code == 2
    assert "PostgreSQL" in result.err
    assert creates(twilio_sandbox) == 0


@given(
    user=st.text(alphabet="abcdefgh", min_size=1, max_size=8),
    password=st.text(alphabet="ABCDEFGH0123456789!$", min_size=4, max_size=20),
    host=st.sampled_from(["127.0.0.1", "db.example.com", "[bad"]),
)
def test_a_url_is_never_shown_with_its_password(user: str, password: str, host: str) -> None:
    target = f"postgresql://{user}:{password}@{host}/db"
    assert password not in shown(target)
    assert password not in (target_problem(target) or "")


def test_libpq_keywords_are_shown_without_their_password() -> None:
    assert PASSWORD not in shown(f"host=h password={PASSWORD} dbname=d")
