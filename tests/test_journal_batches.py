"""Claims in batches, outcomes held back to ride with the next claims, and a campaign's plan as
rows: the same on SQLite and on PostgreSQL (a private server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from twilio_component.journal import Journal, open_journal
from twilio_component.journal.deferred import Deferred

STEP = "t/v1/a"


@pytest.fixture(params=["sqlite", "postgresql"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Journal]:
    target = str(tmp_path / "j.db")
    if request.param == "postgresql":
        target = request.getfixturevalue("postgres_url")
    opened = open_journal(target)
    yield opened
    opened.close()


def steps(*keys: str) -> list[tuple[str, str, dict[str, str]]]:
    return [(key, STEP, {"To": key}) for key in keys]


def test_claiming_a_batch_gives_one_claim_per_step_in_order(journal: Journal) -> None:
    journal.claim("b", STEP, {"To": "b"}, "me")
    journal.sent("b", "me", {"sid": "SM1"})
    claims = journal.claim_many([*steps("a", "b"), ("c", STEP, {"To": "other"})], "you")
    journal.claim("c", STEP, {"To": "c"}, "first")
    assert [(c.record.key, c.kind) for c in claims] == [("a", "new"), ("b", "done"), ("c", "new")]
    assert all(c.record.attempted_at is not None for c in claims if c.kind == "new")


def test_outcomes_held_back_are_written_with_the_next_claims(journal: Journal) -> None:
    deferred = Deferred(journal)
    journal.claim_many(steps("a", "b"), "me")
    deferred.sent("a", "me", {"sid": "SM1"})
    deferred.failed("b", "me", 21610, "unsubscribed")
    assert journal.get("a").state == "claimed"  # type: ignore[union-attr]
    journal.claim_many(steps("c"), "me", settle=deferred)
    assert (journal.get("a").state, journal.get("a").output) == ("sent", {"sid": "SM1"})  # type: ignore[union-attr]
    assert journal.get("b").error_code == 21610  # type: ignore[union-attr]
    assert len(deferred) == 0


def test_a_key_given_back_and_claimed_again_in_one_commit_is_new(journal: Journal) -> None:
    deferred = Deferred(journal)
    journal.claim_many(steps("a"), "me")
    deferred.release("a", "me")  # refused for now: never sent
    (again,) = journal.claim_many(steps("a"), "me", settle=deferred)
    assert again.kind == "new"


def test_outcomes_of_a_commit_that_failed_are_kept_to_be_counted(journal: Journal) -> None:
    deferred = Deferred(journal)
    journal.claim_many(steps("a"), "me")
    deferred.sent("a", "me", {"sid": "SM1"})
    with pytest.raises(journal.errors):  # a step that cannot be written fails the whole commit
        journal.claim_many([("x", None, {"To": "x"})], "me", settle=deferred)  # type: ignore[list-item]
    assert deferred.states() == {"sent": 1}
    journal.settle(deferred)
    assert journal.get("a").state == "sent"  # type: ignore[union-attr]


def test_a_plan_is_stored_sealed_and_read_back_in_order_a_page_at_a_time(
    journal: Journal,
) -> None:
    rows = [(f"campaign/c/+1{i:04d}", {"To": f"+1{i:04d}"}, None) for i in range(25)]
    assert journal.plans.store("c", iter(rows), page=10) == 25
    assert journal.plans.size("c") == 25
    read = list(journal.plans.rows("c", page=7))
    assert [r.position for r in read] == list(range(25))
    assert [r.key for r in read] == [key for key, _, _ in rows]
    assert journal.plans.counts("c") == {None: 25}


def test_a_plan_cut_short_before_its_seal_has_no_size_and_is_written_again(
    journal: Journal,
) -> None:
    def broken() -> Iterator[tuple[str, dict[str, str], None]]:
        yield "campaign/c/+10001", {"To": "+10001"}, None
        raise RuntimeError("the process died")

    with pytest.raises(RuntimeError):
        journal.plans.store("c", broken(), page=1)
    assert journal.plans.size("c") is None
    assert journal.plans.store("c", iter([("campaign/c/+10002", {"To": "+10002"}, None)])) == 1
    assert [r.key for r in journal.plans.rows("c")] == ["campaign/c/+10002"]


def test_feeding_moves_the_cursor_and_never_hands_a_row_out_twice(journal: Journal) -> None:
    rows = [(f"campaign/c/{i}", {"To": str(i)}, {"sender": "s"}) for i in range(5)]
    journal.plans.store("c", iter(rows))
    handed = [r.position for r in journal.plans.feed("c", 2)]
    handed += [r.position for r in journal.plans.feed("c", 2)]
    handed += [r.position for r in journal.plans.feed("c", 2)]
    assert handed == [0, 1, 2, 3, 4]
    assert journal.plans.feed("c", 2) == []
    assert journal.plans.fed("c") == 5


def test_the_counts_of_a_plan_join_each_row_with_its_record(journal: Journal) -> None:
    rows = [(f"campaign/c/{i}", {"To": str(i)}, None) for i in range(3)]
    journal.plans.store("c", iter(rows))
    journal.claim("campaign/c/0", STEP, {"To": "0"}, "me")
    journal.sent("campaign/c/0", "me", {"sid": "SM1"})
    assert journal.plans.counts("c") == {"sent": 1, None: 2}
