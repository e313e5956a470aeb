"""The PostgreSQL journal through a server restart and a crash: nothing lost, nothing twice."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import creates, no_sleep, sms_step
from postgres_server import Server, fresh_database, private_server

from twilio_component import ComponentError, Host, RetryPolicy
from twilio_component.journal.postgres import APPLICATION_NAME, PostgresJournal
from twilio_component.sandbox import Sandbox
from twilio_component.twilio.settings import Settings

STEP, PARAMETERS = "t/v1/a", {"To": "+15558675310"}


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


# -- the pool: threads of one journal on connections of their own ------------------------------


def _until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not {what} after {timeout} s")
        time.sleep(0.05)


def _backends(url: str) -> tuple[int, int]:
    """The journal's connections to the database at ``url``: (waiting for a lock, all)."""
    with psycopg.connect(url, autocommit=True) as monitor:
        row = monitor.execute(
            "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'), count(*) "
            "FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()",
            (APPLICATION_NAME,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


class _Blocked:
    """Threads each running ``work`` while another connection holds the steps table locked,
    so that every one of them waits inside the database until ``release``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._locker = psycopg.connect(url, autocommit=True)
        self._locker.execute("BEGIN")
        self._locker.execute("LOCK TABLE steps IN ACCESS EXCLUSIVE MODE")
        self.threads: list[threading.Thread] = []
        self.results: list[Any] = []
        self.errors: list[BaseException] = []

    def start(self, work: Callable[[], Any], count: int = 1) -> None:
        def run() -> None:
            try:
                self.results.append(work())
            except BaseException as error:
                self.errors.append(error)

        for _ in range(count):
            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            self.threads.append(thread)

    def wait_until_waiting(self, count: int) -> None:
        _until(lambda: _backends(self.url)[0] == count, f"{count} journal connections waiting")

    def release(self) -> None:
        with suppress(psycopg.Error):  # the server may have gone
            self._locker.execute("ROLLBACK")
        self._locker.close()

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=60)
            assert not thread.is_alive()


@pytest.mark.parametrize("inside", ["read", "write transaction"])
def test_a_thread_waiting_inside_the_database_does_not_hold_up_another_threads_read(
    postgres_url: str, inside: str
) -> None:
    journal = PostgresJournal(postgres_url)
    try:
        journal.note("campaign:c", {"size": 3})
        journal.claim("k", STEP, PARAMETERS, "me")
        blocked = _Blocked(postgres_url)
        if inside == "read":
            blocked.start(lambda: journal.get("k"))
        else:  # it holds the write lock while it waits
            blocked.start(lambda: journal.claim("other", STEP, PARAMETERS, "me").kind)
        blocked.wait_until_waiting(1)
        # Another thread of the same journal reads meanwhile, on a second connection.
        assert journal.noted("campaign:c") == {"size": 3}
        assert blocked.threads[0].is_alive()
        assert _backends(postgres_url) == (1, 2)
        blocked.release()
        blocked.join()
        assert not blocked.errors
        if inside == "read":
            assert blocked.results[0].state == "claimed"
        else:
            assert blocked.results == ["new"]
    finally:
        journal.close()


def test_threads_share_at_most_pool_size_connections_and_the_rest_wait_their_turn(
    postgres_url: str,
) -> None:
    journal = PostgresJournal(postgres_url, pool_size=2)
    try:
        journal.claim("k", STEP, PARAMETERS, "me")
        blocked = _Blocked(postgres_url)
        blocked.start(lambda: journal.get("k"), count=3)
        blocked.wait_until_waiting(2)
        time.sleep(0.5)  # the third thread waits for a connection, not for the lock
        assert _backends(postgres_url) == (2, 2)
        assert sum(thread.is_alive() for thread in blocked.threads) == 3
        blocked.release()
        blocked.join()
        assert not blocked.errors
        assert [record.key for record in blocked.results] == ["k", "k", "k"]
    finally:
        journal.close()


def test_close_closes_every_connection_of_the_pool(postgres_url: str) -> None:
    journal = PostgresJournal(postgres_url, pool_size=3)
    journal.claim("k", STEP, PARAMETERS, "me")
    blocked = _Blocked(postgres_url)
    blocked.start(lambda: journal.get("k"), count=3)
    blocked.wait_until_waiting(3)
    blocked.release()
    blocked.join()
    assert _backends(postgres_url)[1] == 3
    journal.close()
    _until(lambda: _backends(postgres_url)[1] == 0, "every connection closed")


@pytest.mark.parametrize("how", ["killed", "stopped"])
def test_after_a_restart_every_pooled_connection_is_replaced_and_no_row_is_lost_or_doubled(
    server: Server, how: str
) -> None:
    url = fresh_database(server.url)
    journal = PostgresJournal(url, pool_size=8)
    try:
        for index in range(10):
            journal.claim(f"a{index}", STEP, PARAMETERS, "me")
            journal.sent(f"a{index}", "me", {"sid": f"SM{index}"})
        # Eight connections in the pool, each idle once its thread is done.
        blocked = _Blocked(url)
        blocked.start(lambda: journal.get("a0"), count=8)
        blocked.wait_until_waiting(8)
        blocked.release()
        blocked.join()
        assert _backends(url) == (0, 8)

        if how == "killed":
            server.kill()
        else:
            server.stop(mode="fast")
        server.start()

        # One thread's read meets a broken connection first: all eight are replaced at once
        # (met one by one, each after a longer pause, the pool would give up before the last).
        assert journal.noted("nothing") is None
        # Four threads race for the same twenty keys: each is claimed as new once, sent once.
        news: list[str] = []
        errors: list[BaseException] = []
        keys = [f"b{index:02}" for index in range(20)]

        def race(owner: str) -> None:
            try:
                for key in keys:
                    claim = journal.claim(key, STEP, PARAMETERS, owner)
                    if claim.kind == "new":
                        news.append(key)
                        journal.sent(key, owner, {"sid": key})
            except BaseException as error:
                errors.append(error)

        racers = [
            threading.Thread(target=race, args=(f"elsewhere/{n}/racer",), daemon=True)
            for n in range(4)
        ]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(timeout=120)
        assert not errors
        assert sorted(news) == keys
        records = journal.records("b")
        assert [(r.key, r.state, r.output) for r in records] == [
            (key, "sent", {"sid": key}) for key in keys
        ]
        assert [(r.key, r.output) for r in journal.records("a")] == [
            (f"a{index}", {"sid": f"SM{index}"}) for index in range(10)
        ]
        # The pool is whole again: eight threads in the database at once.
        blocked = _Blocked(url)
        blocked.start(lambda: journal.get("b00"), count=8)
        blocked.wait_until_waiting(8)
        blocked.release()
        blocked.join()
        assert not blocked.errors
        assert [r.state for r in blocked.results] == ["sent"] * 8
    finally:
        journal.close()


def test_a_claim_cut_off_by_a_restart_fails_and_claims_once_when_run_again(
    server: Server,
) -> None:
    url = fresh_database(server.url)
    journal = PostgresJournal(url)
    try:
        blocked = _Blocked(url)
        blocked.start(lambda: journal.claim("k", STEP, PARAMETERS, "elsewhere/1/first"))
        blocked.wait_until_waiting(1)
        server.stop()  # immediate: the claim's transaction dies before its COMMIT
        blocked.join()
        blocked.release()
        assert blocked.results == []
        assert blocked.errors
        assert all(isinstance(error, psycopg.OperationalError) for error in blocked.errors)
        server.start()
        assert journal.records("") == []
        assert journal.claim("k", STEP, PARAMETERS, "elsewhere/1/first").kind == "new"
        assert journal.claim("k", STEP, PARAMETERS, "elsewhere/2/second").kind == "busy"
        assert [r.key for r in journal.records("")] == ["k"]
    finally:
        journal.close()


def test_without_psycopg_pool_the_error_says_what_to_install(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg_pool", None)
    with pytest.raises(ComponentError, match=r"pip install 'twilio-component\[postgres\]'"):
        PostgresJournal(postgres_url)


def test_an_unreachable_server_names_host_and_database_not_the_password(server: Server) -> None:
    url = f"postgresql://postgres:hunter2-secret@127.0.0.1:{server.port + 1}/nothing"
    with pytest.raises(ComponentError) as caught:
        PostgresJournal(url)
    assert f"127.0.0.1:{server.port + 1}/nothing" in str(caught.value)
    assert "hunter2-secret" not in str(caught.value)
