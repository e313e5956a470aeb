"""The PostgreSQL journal through a server restart and a crash: nothing lost, nothing twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import creates, no_sleep, sms_step
from postgres_server import Server, fresh_database, private_server

from twilio_component import Host, RetryPolicy
from twilio_component.sandbox import Sandbox
from twilio_component.twilio.settings import Settings


@pytest.fixture
def server() -> Iterator[Server]:
    with private_server() as started:
        yield started


@pytest.mark.parametrize("how", ["killed", "stopped"])
def test_steps_go_on_after_the_server_restarts_with_each_sent_once(
    server: Server, twilio_sandbox: Sandbox, how: str
) -> None:
    url = fresh_database(server.url)
    settings = Settings(
        base_url=twilio_sandbox.base_url, journal=url, retry=RetryPolicy(sleep=no_sleep)
    )
    with Host.load(settings) as host:
        before = host.execute(sms_step(Body="a"), connection=twilio_sandbox.connection, key="a")
        if how == "killed":
            server.kill()
        else:
            server.stop(mode="fast")
        server.start()
        after = host.execute(sms_step(Body="b"), connection=twilio_sandbox.connection, key="b")
        assert host.execute(sms_step(Body="a"), connection=twilio_sandbox.connection, key="a") == (
            before
        )
        assert after["sid"] != before["sid"]
    assert creates(twilio_sandbox) == 2


def test_a_journal_url_with_a_password_never_shows_it(server: Server) -> None:
    from twilio_component import ComponentError
    from twilio_component.journal import open_journal

    url = f"postgresql://postgres:hunter2-secret@127.0.0.1:{server.port + 1}/nothing"
    with pytest.raises(ComponentError) as caught:
        open_journal(url)
    assert "hunter2-secret" not in str(caught.value)


def test_a_campaign_on_a_postgresql_journal_reports_from_it(
    server: Server, twilio_sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    import io
    import json

    from twilio_component.cli import main

    url = fresh_database(server.url)
    (tmp_path / "r.csv").write_text("phone\n+15550000001\n+15550000002\n", encoding="utf-8")
    step = {
        "type": "twilio/v1/sendSMS",
        "parameters": {"To": "${row.phone}", "From": "+15005550006", "Body": "Hi"},
    }
    (tmp_path / "step.json").write_text(json.dumps(step), encoding="utf-8")
    argv = [
        "campaign",
        "send",
        str(tmp_path / "r.csv"),
        "--step",
        str(tmp_path / "step.json"),
        "--campaign",
        "pg",
        "--journal",
        url,
    ]
    for _ in range(2):
        out, err = io.StringIO(), io.StringIO()
        assert main(argv, environ=sandbox_env, stdout=out, stderr=err) == 0, err.getvalue()
    out = io.StringIO()
    assert (
        main(
            ["campaign", "status", "pg", "--journal", url],
            environ=sandbox_env,
            stdout=out,
            stderr=io.StringIO(),
        )
        == 0
    )
    assert json.loads(out.getvalue())["sent"] == 2
    assert creates(twilio_sandbox) == 2
