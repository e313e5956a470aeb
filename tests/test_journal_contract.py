"""The journal's contract, the same on SQLite and on PostgreSQL (a private server)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import creates, no_sleep, sms_step

from twilio_component import Host, KeyConflictError, RetryPolicy
from twilio_component.journal import Journal, open_journal
from twilio_component.sandbox import Sandbox
from twilio_component.twilio.settings import Settings

STEP, PARAMETERS = "t/v1/a", {"To": "+15558675310"}


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "j.db")
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def journal(target: str) -> Iterator[Journal]:
    opened = open_journal(target)
    yield opened
    opened.close()


def test_a_new_key_is_claimed_and_marked_as_attempted(journal: Journal) -> None:
    claim = journal.claim("k", STEP, PARAMETERS, "me")
    assert claim.kind == "new"
    assert claim.record.attempted_at is not None


def test_the_same_key_with_other_parameters_is_a_conflict(journal: Journal) -> None:
    journal.claim("k", STEP, PARAMETERS, "me")
    assert journal.claim("k", STEP, {"To": "+15558675311"}, "you").kind == "conflict"


def test_a_sent_key_is_done_with_its_output(journal: Journal) -> None:
    journal.claim("k", STEP, PARAMETERS, "me")
    journal.sent("k", "me", {"sid": "SM1"})
    claim = journal.claim("k", STEP, PARAMETERS, "you")
    assert (claim.kind, claim.record.output) == ("done", {"sid": "SM1"})


def test_a_live_claim_of_another_owner_is_busy(journal: Journal) -> None:
    journal.claim("k", STEP, PARAMETERS, "elsewhere/1/aaaa")
    assert journal.claim("k", STEP, PARAMETERS, "me").kind == "busy"


def test_an_attempt_whose_owner_died_is_reconciled_not_sent(journal: Journal) -> None:
    journal.claim("k", STEP, PARAMETERS, "localhost-is-not-this/1/dead")
    journal.unknown("k", "localhost-is-not-this/1/dead", "timeout")
    assert journal.claim("k", STEP, PARAMETERS, "me").kind == "reconcile"


def test_a_released_key_is_new_again(journal: Journal) -> None:
    journal.claim("k", STEP, PARAMETERS, "me")
    journal.release("k", "me")
    assert journal.claim("k", STEP, PARAMETERS, "you").kind == "new"


def test_an_owner_that_lost_its_claim_cannot_record_over_it(journal: Journal) -> None:
    journal.claim("k", STEP, PARAMETERS, "me")
    journal.release("k", "me")
    journal.claim("k", STEP, PARAMETERS, "you")
    with pytest.raises(RuntimeError, match="no longer holds"):
        journal.sent("k", "me", {"sid": "SM1"})


def test_records_by_prefix_in_key_order_and_notes(journal: Journal) -> None:
    for key in ("c/b", "c/a", "d/a", "c_/x"):
        journal.claim(key, STEP, PARAMETERS, "me")
    assert [r.key for r in journal.records("c/")] == ["c/a", "c/b"]
    journal.note("c", {"recipients": 2})
    assert journal.noted("c") == {"recipients": 2}
    assert journal.noted("none") is None


def test_events_are_claimed_once_and_ranks_only_climb(journal: Journal) -> None:
    assert journal.claim_event(["a", "token"])
    assert not journal.claim_event(["b", "token"])
    assert journal.advance("m", 2)
    assert not journal.advance("m", 2)
    assert not journal.advance("m", 1)
    assert journal.advance("m", 3)


def test_racing_claims_from_many_threads_give_one_winner(target: str) -> None:
    kinds: list[str] = []
    lock = threading.Lock()

    def claim(index: int) -> None:
        opened = open_journal(target)
        kind = opened.claim("race", STEP, PARAMETERS, f"racer/{index}/x").kind
        with lock:
            kinds.append(kind)
        opened.close()

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(kinds) == ["busy"] * 7 + ["new"]


def test_keyed_steps_on_the_journal_send_once_and_refuse_a_changed_step(
    target: str, twilio_sandbox: Sandbox
) -> None:
    settings = Settings(
        base_url=twilio_sandbox.base_url, journal=target, retry=RetryPolicy(sleep=no_sleep)
    )
    with Host.load(settings) as host:
        first = host.execute(sms_step(), connection=twilio_sandbox.connection, key="o1")
        assert host.execute(sms_step(), connection=twilio_sandbox.connection, key="o1") == first
        with pytest.raises(KeyConflictError):
            host.execute(sms_step(Body="x"), connection=twilio_sandbox.connection, key="o1")
    assert creates(twilio_sandbox) == 1


def test_counts_are_per_state_and_only_under_the_prefix(journal: Journal) -> None:
    for key in ("campaign/a_1/+1", "campaign/a_1/+2", "campaign/a_1/+3", "campaign/aX1/+1"):
        journal.claim(key, "t/v1/a", {"To": key}, "me")
    journal.sent("campaign/a_1/+1", "me", {"sid": "SM1"})
    journal.failed("campaign/a_1/+2", "me", 21610, "unsubscribed")
    # "_" is a LIKE wildcard: it must not match the other campaign's "X".
    assert journal.counts("campaign/a_1/") == {"sent": 1, "failed": 1, "claimed": 1}
