"""A journal target is an SQLite file path or a postgresql:// URL, a broker a redis:// URL;
anything else is refused before anything is sent (exit 2 naming the flag), and a password is
never shown or written."""

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


@pytest.mark.parametrize(
    ("broker", "why"),
    [
        (f"redis://u:{PASSWORD}@[bad/0", "is not a valid URL"),
        (f"redis://u:{PASSWORD}@host:port/0", "is not a valid URL"),
        (f"amqp://u:{PASSWORD}@host/", "give a Redis URL"),
        ("redis:///0", "names no host"),
        ("redis://127.0.0.1:6379/queue", "databases are numbers"),
    ],
)
def test_a_broker_that_is_no_redis_url_is_refused_naming_the_flag_and_no_password(
    cli: Cli, postgres_url: str, broker: str, why: str
) -> None:
    for argv in (
        ("worker", "--journal", postgres_url, "--broker", broker),
        ("campaign", "resume", "c", "--journal", postgres_url, "--broker", broker),
    ):
        result = cli(*argv)
        assert result.code == 2, result.err
        assert "--broker" in result.err
        assert why in result.err
        assert PASSWORD not in result.out + result.err


def test_the_broker_comes_from_the_environment_when_not_given(
    cli: Cli, postgres_url: str, sandbox_env: dict[str, str]
) -> None:
    missing = cli("campaign", "resume", "c", "--journal", postgres_url, env=sandbox_env)
    assert missing.code == 2
    assert "TWILIO_COMPONENT_BROKER" in missing.err
    env = {**sandbox_env, "TWILIO_COMPONENT_BROKER": f"redis://:{PASSWORD}@127.0.0.1:1/0"}
    unreachable = cli("campaign", "resume", "c", "--journal", postgres_url, env=env)
    assert unreachable.code == 1  # taken from the environment, and not reachable there
    assert "127.0.0.1:1/0" in unreachable.err
    assert PASSWORD not in unreachable.out + unreachable.err


def test_the_command_line_and_the_workers_read_the_broker_from_one_variable() -> None:
    from twilio_component.cli.distributed import BROKER_VARIABLE
    from twilio_component.distributed.app import BROKER_VARIABLE as WORKERS

    assert BROKER_VARIABLE == WORKERS


def test_a_journal_file_that_is_no_database_is_exit_2_naming_the_flag(
    cli: Cli, twilio_sandbox: Sandbox, tmp_path: Path
) -> None:
    journal = tmp_path / "steps.db"
    journal.write_text("a shopping list, not a journal\n" * 100, encoding="utf-8")
    result = cli(*SEND, "--journal", str(journal))
    assert result.code == 2
    assert result.err.startswith("--journal: ")
    assert "nothing was sent" in result.err
    assert creates(twilio_sandbox) == 0


def test_a_journal_where_sqlite_cannot_make_its_file_is_exit_2_naming_the_flag(
    cli: Cli, twilio_sandbox: Sandbox
) -> None:
    # sysfs refuses new files even to root, whom a writable-folder check lets through
    result = cli(*SEND, "--journal", "/sys/twilio-component-steps.db")
    assert result.code == 2
    assert "--journal" in result.err
    assert creates(twilio_sandbox) == 0
