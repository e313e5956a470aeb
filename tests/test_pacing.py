"""Pacing per sender: units per second, one booking rule, slow-downs, pauses, threads; and
Twilio's rates and costs per sender type."""

from __future__ import annotations

import string
import threading
import time
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twilio_component.pacing import DEFAULT_PAUSE, Pacer, SenderPace, book
from twilio_component.twilio.pacing import TRAFFIC, default_mps

LONG_CODE = "+15005550006"
OTHER_LONG_CODE = "+15005550007"
TOLL_FREE_PREFIXES = ("800", "833", "844", "855", "866", "877", "888")


class FakeClock:
    """A clock that moves only when told to, or when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def paced(mps: float | None = None, max_concurrent: int = 8) -> tuple[Pacer, FakeClock]:
    clock = FakeClock()
    pacer = Pacer(
        mps, rate=default_mps, max_concurrent=max_concurrent, clock=clock, sleep=clock.sleep
    )
    return pacer, clock


def most_in_one_second(sends: Sequence[tuple[float, float]]) -> float:
    """The most segments whose send times fall in one window [t, t + 1)."""
    ordered = sorted(sends)
    most = 0.0
    for index, (start, _) in enumerate(ordered):
        inside = sum(n for t, n in ordered[index:] if t < start + 1 - 1e-9)
        most = max(most, inside)
    return most


# -- default throughput per sender type -------------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "has_media", "expected"),
    [
        ("+15005550006", False, 1.0),
        ("+447700900123", False, 1.0),
        ("+18005550100", False, 3.0),
        ("+18885550100", False, 3.0),
        ("+18015550100", False, 1.0),
        ("12345", False, 100.0),
        ("123456", False, 100.0),
        ("1234", False, 1.0),
        ("1234567", False, 1.0),
        ("ACME", False, 10.0),
        ("Acme Corp 1", False, 10.0),
        ("whatsapp:+15005550006", False, 10.0),
        ("whatsapp:+15005550006", True, 1.5),
        ("MG" + "0123456789abcdef" * 2, False, 1.0),
        ("+15005550006", True, 1.0),
        ("messenger:1234567890", False, 1.0),
    ],
)
def test_default_mps_follows_twilios_table_per_sender_type(
    sender: str, has_media: bool, expected: float
) -> None:
    assert default_mps(sender, has_media=has_media) == expected


@settings(deadline=None)
@given(st.sampled_from(TOLL_FREE_PREFIXES), st.from_regex(r"[0-9]{7}", fullmatch=True))
def test_every_toll_free_number_gets_3(prefix: str, rest: str) -> None:
    assert default_mps(f"+1{prefix}{rest}") == 3.0


@settings(deadline=None)
@given(st.from_regex(r"[0-9]{5,6}", fullmatch=True))
def test_every_short_code_gets_100(code: str) -> None:
    assert default_mps(code) == 100.0


@settings(deadline=None)
@given(
    st.text(string.ascii_letters + string.digits + " ", min_size=1, max_size=11).filter(
        lambda s: any(c.isalpha() for c in s)
    )
)
def test_every_alphanumeric_sender_id_gets_10(sender: str) -> None:
    assert default_mps(sender) == 10.0


@settings(deadline=None)
@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True), st.booleans())
def test_every_whatsapp_sender_gets_10_or_1_5_with_media(number: str, has_media: bool) -> None:
    assert default_mps(f"whatsapp:{number}", has_media=has_media) == (1.5 if has_media else 10.0)


@settings(deadline=None)
@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_every_other_e164_number_gets_1(number: str) -> None:
    toll_free = number.startswith("+1") and number[2:5] in TOLL_FREE_PREFIXES and len(number) == 12
    assert default_mps(number) == (3.0 if toll_free else 1.0)


@settings(deadline=None)
@given(st.from_regex(r"MG[0-9a-f]{32}", fullmatch=True))
def test_every_messaging_service_gets_1_like_a_long_code(sid: str) -> None:
    assert default_mps(sid) == 1.0


def test_without_mps_each_sender_is_paced_at_its_default() -> None:
    pacer, _ = paced()
    assert [pacer.reserve("12345") for _ in range(3)] == pytest.approx([0, 0.01, 0.02])
    assert [pacer.reserve("+18005550100") for _ in range(3)] == pytest.approx([0, 1 / 3, 2 / 3])
    assert [pacer.reserve(LONG_CODE) for _ in range(3)] == pytest.approx([0, 1, 2])


def test_an_explicit_mps_overrides_every_default() -> None:
    pacer, _ = paced(4)
    assert [pacer.reserve("MG" + "0" * 32) for _ in range(3)] == pytest.approx([0, 0.25, 0.5])
    assert [pacer.reserve("12345") for _ in range(3)] == pytest.approx([0, 0.25, 0.5])
    assert pacer.configured_mps("12345") == 4.0


# -- the token bucket -------------------------------------------------------------------------


def test_a_new_sender_sends_its_first_message_at_once_whatever_its_length() -> None:
    pacer, _ = paced(1)
    assert pacer.reserve(LONG_CODE, 4) == 0.0


def test_back_to_back_messages_are_spaced_by_their_segments_over_the_rate() -> None:
    pacer, _ = paced(2)
    delays = [pacer.reserve(LONG_CODE, n) for n in (1, 1, 3, 1)]
    assert delays == pytest.approx([0.0, 0.5, 1.0, 2.5])


def test_the_first_second_of_a_new_sender_sends_at_most_mps_plus_one() -> None:
    pacer, clock = paced(10)
    sends = [(clock.now + pacer.reserve(LONG_CODE), 1.0) for _ in range(50)]
    assert most_in_one_second(sends) == 10
    assert sum(1 for t, _ in sends if t <= clock.now + 1 + 1e-9) == 11


def test_an_idle_sender_starts_again_with_one_message_never_a_burst() -> None:
    pacer, clock = paced(10)
    pacer.reserve(LONG_CODE)
    clock.now += 3600
    delays = [pacer.reserve(LONG_CODE) for _ in range(3)]
    assert delays == pytest.approx([0.0, 0.1, 0.2])


def test_a_long_message_goes_at_once_and_books_the_sender_for_all_its_segments() -> None:
    pacer, clock = paced(1)
    pacer.reserve(LONG_CODE)
    clock.now += 3600
    assert pacer.reserve(LONG_CODE, 7) == 0.0
    assert pacer.reserve(LONG_CODE) == pytest.approx(7.0)


def test_time_passing_pays_off_the_backlog() -> None:
    pacer, clock = paced(1)
    for _ in range(5):
        pacer.reserve(LONG_CODE)
    clock.now += 2.5
    assert pacer.reserve(LONG_CODE) == pytest.approx(2.5)


def test_senders_are_paced_independently() -> None:
    pacer, _ = paced(1)
    assert pacer.reserve(LONG_CODE) == 0.0
    assert pacer.reserve(LONG_CODE) == pytest.approx(1.0)
    assert pacer.reserve(OTHER_LONG_CODE) == 0.0


def test_a_whatsapp_media_message_is_paced_at_one_and_a_half_per_second() -> None:
    pacer, _ = paced()
    sender = "whatsapp:+15005550006"
    media = {"From": sender, "To": "whatsapp:+15558675310", "Body": "hi", "MediaUrl": ["u"]}
    delays = [pacer.reserve(sender, TRAFFIC.cost(media)) for _ in range(3)]
    assert delays == pytest.approx([0.0, 1 / 1.5, 2 / 1.5])
    assert pacer.reserve(sender, TRAFFIC.cost({**media, "MediaUrl": []})) == pytest.approx(2.0)


@given(
    booked=st.floats(0, 1e6),
    now=st.floats(0, 1e6),
    rate=st.floats(0.01, 1e4),
    cost=st.floats(0.01, 100),
)
def test_a_step_goes_at_the_later_of_now_and_the_booking_and_books_its_cost_over_the_rate(
    booked: float, now: float, rate: float, cost: float
) -> None:
    after, wait = book(booked, now, rate, cost)
    assert wait == max(0.0, booked - now)
    assert after == pytest.approx(now + wait + cost / rate)


def test_reserve_never_sleeps() -> None:
    pacer, clock = paced(1)
    for _ in range(3):
        pacer.reserve(LONG_CODE)
    assert clock.slept == []


def test_wait_sleeps_exactly_the_reserved_delay_and_returns_it() -> None:
    pacer, clock = paced(2)
    assert [pacer.wait(LONG_CODE, 2) for _ in range(3)] == pytest.approx([0.0, 1.0, 1.0])
    assert clock.slept == pytest.approx([1.0, 1.0])


@settings(max_examples=300, deadline=None)
@given(
    mps=st.sampled_from([0.5, 1.0, 1.5, 3.0, 10.0, 100.0]) | st.floats(0.1, 500),
    steps=st.lists(
        st.tuples(st.sampled_from([0.0, 0.01]) | st.floats(0, 3), st.integers(1, 12)),
        min_size=1,
        max_size=80,
    ),
)
def test_no_second_of_send_times_carries_more_than_mps_plus_the_largest_message(
    mps: float, steps: list[tuple[float, int]]
) -> None:
    pacer, clock = paced(mps)
    sends = []
    for gap, segments in steps:
        clock.now += gap
        sends.append((clock.now + pacer.reserve(LONG_CODE, segments), float(segments)))
    largest = max(n for _, n in steps)
    assert most_in_one_second(sends) <= mps + largest + 1e-6


@settings(max_examples=300, deadline=None)
@given(
    mps=st.sampled_from([1.0, 3.0, 10.0, 100.0]),
    steps=st.lists(
        st.tuples(
            st.sampled_from(["send", "send", "send", "429", "21611"]),
            st.sampled_from([0.0, 0.01]) | st.floats(0, 3),
            st.integers(1, 12),
        ),
        min_size=1,
        max_size=80,
    ),
)
def test_429s_and_pauses_never_let_a_second_carry_more_than_the_configured_bound(
    mps: float, steps: list[tuple[str, float, int]]
) -> None:
    pacer, clock = paced(mps)
    sends = []
    for what, gap, segments in steps:
        clock.now += gap
        if what == "429":
            pacer.slow_down(LONG_CODE)
        elif what == "21611":
            pacer.pause(LONG_CODE, segments)
        else:
            sends.append((clock.now + pacer.reserve(LONG_CODE, segments), float(segments)))
    largest = max([1.0, *(n for _, n in sends)])
    assert most_in_one_second(sends) <= mps + largest + 1e-6


# -- 429: slow down, then recover -------------------------------------------------------------


def test_a_429_halves_the_senders_rate() -> None:
    pacer, _ = paced(10)
    assert pacer.slow_down(LONG_CODE) == 5.0
    assert pacer.stats()[LONG_CODE].rate == 5.0


def test_a_slowed_sender_is_spaced_at_its_slowed_rate() -> None:
    pacer, _ = paced(10)
    pacer.reserve(LONG_CODE)
    pacer.slow_down(LONG_CODE)
    assert [pacer.reserve(LONG_CODE) for _ in range(2)] == pytest.approx([0.1, 0.3])


def test_repeated_429s_never_slow_a_sender_below_a_tenth_of_its_rate() -> None:
    pacer, _ = paced(10)
    rates = [pacer.slow_down(LONG_CODE) for _ in range(6)]
    assert rates == pytest.approx([5.0, 2.5, 1.25, 1.0, 1.0, 1.0])


def test_the_rate_recovers_a_tenth_of_the_configured_rate_per_second_without_429() -> None:
    pacer, clock = paced(10)
    pacer.slow_down(LONG_CODE)
    rates = []
    for _ in range(7):
        rates.append(pacer.stats()[LONG_CODE].rate)
        clock.now += 1
    assert rates == pytest.approx([5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 10.0])


def test_a_429_slows_only_that_sender() -> None:
    pacer, _ = paced(10)
    pacer.reserve(OTHER_LONG_CODE)
    pacer.slow_down(LONG_CODE)
    assert pacer.stats()[OTHER_LONG_CODE].rate == 10.0


@settings(deadline=None)
@given(
    mps=st.sampled_from([1.0, 1.5, 3.0, 10.0, 100.0]),
    events=st.lists(st.tuples(st.booleans(), st.floats(0, 5)), min_size=1, max_size=40),
)
def test_any_run_of_429s_stays_between_a_tenth_and_full_and_recovers_within_9_seconds(
    mps: float, events: list[tuple[bool, float]]
) -> None:
    pacer, clock = paced(mps)
    for too_many, gap in events:
        clock.now += gap
        if too_many:
            pacer.slow_down(LONG_CODE)
        rate = pacer.stats().get(LONG_CODE, SenderPace(mps, mps, 0, 0)).rate
        assert 0.1 * mps - 1e-9 <= rate <= mps
    clock.now += 9 + 1e-6
    if LONG_CODE in pacer.stats():
        assert pacer.stats()[LONG_CODE].rate == mps


# -- 21611: pause -----------------------------------------------------------------------------


def test_a_paused_sender_sends_again_when_the_pause_ends() -> None:
    pacer, _ = paced(1)
    pacer.reserve(LONG_CODE)
    pacer.pause(LONG_CODE, 30)
    assert pacer.reserve(LONG_CODE) == pytest.approx(30.0)


def test_a_pause_lasts_60_seconds_by_default() -> None:
    pacer, _ = paced(2)
    pacer.pause(LONG_CODE)
    assert DEFAULT_PAUSE == 60.0
    assert pacer.reserve(LONG_CODE) == pytest.approx(60.0)


def test_what_is_left_of_a_pause_is_waited_out() -> None:
    pacer, clock = paced(1)
    pacer.pause(LONG_CODE, 60)
    clock.now += 45
    assert pacer.stats()[LONG_CODE].paused == pytest.approx(15.0)
    assert pacer.reserve(LONG_CODE) == pytest.approx(15.0)


def test_the_pace_resumes_once_a_pause_is_over() -> None:
    pacer, clock = paced(1)
    pacer.pause(LONG_CODE, 10)
    clock.now += 100
    assert pacer.stats()[LONG_CODE].paused == 0.0
    assert [pacer.reserve(LONG_CODE) for _ in range(2)] == pytest.approx([0.0, 1.0])


def test_a_shorter_pause_never_cuts_a_longer_one_short() -> None:
    pacer, _ = paced(1)
    pacer.pause(LONG_CODE, 60)
    pacer.pause(LONG_CODE, 5)
    assert pacer.reserve(LONG_CODE) == pytest.approx(60.0)


def test_a_pause_stops_only_that_sender() -> None:
    pacer, _ = paced(1)
    pacer.pause(LONG_CODE, 60)
    assert pacer.reserve(OTHER_LONG_CODE) == 0.0


# -- stats, concurrency cap, refusals ---------------------------------------------------------


def test_stats_report_each_senders_rates_pause_and_backlog() -> None:
    pacer, _ = paced(2)
    assert pacer.stats() == {}
    for _ in range(3):
        pacer.reserve(LONG_CODE)
    pacer.slow_down(OTHER_LONG_CODE)
    pacer.pause(OTHER_LONG_CODE, 10)
    stats = pacer.stats()
    assert stats[LONG_CODE] == SenderPace(configured=2.0, rate=2.0, paused=0.0, backlog=1.5)
    assert stats[OTHER_LONG_CODE] == SenderPace(configured=2.0, rate=1.0, paused=10, backlog=10)


def test_slot_lets_at_most_max_concurrent_requests_in_flight() -> None:
    pacer, _ = paced(1, max_concurrent=2)
    entered = threading.Event()

    def third() -> None:
        with pacer.slot():
            entered.set()

    with pacer.slot():
        with pacer.slot():
            worker = threading.Thread(target=third)
            worker.start()
            assert not entered.wait(0.2)
        assert entered.wait(10)
    worker.join(10)
    assert pacer.max_concurrent == 2


def test_slot_is_given_back_when_the_request_fails() -> None:
    pacer, _ = paced(1, max_concurrent=1)
    with pytest.raises(RuntimeError), pacer.slot():
        raise RuntimeError("refused")
    with pacer.slot():
        pass


@pytest.mark.parametrize("mps", [0, -1, float("nan"), float("inf"), True])
def test_a_rate_that_is_not_positive_is_refused(mps: float) -> None:
    with pytest.raises(ValueError, match="mps"):
        Pacer(mps)


@pytest.mark.parametrize("count", [0, -1, 1.5, True])
def test_a_concurrency_cap_below_one_is_refused(count: int) -> None:
    with pytest.raises(ValueError, match="max_concurrent"):
        Pacer(max_concurrent=count)


@pytest.mark.parametrize("cost", [0, -3, float("nan"), True])
def test_a_step_that_costs_nothing_is_refused(cost: float) -> None:
    pacer, _ = paced(1)
    with pytest.raises(ValueError, match="cost"):
        pacer.reserve(LONG_CODE, cost)


@pytest.mark.parametrize("seconds", [-1, float("nan"), float("inf")])
def test_a_negative_or_endless_pause_is_refused(seconds: float) -> None:
    pacer, _ = paced(1)
    with pytest.raises(ValueError, match="seconds"):
        pacer.pause(LONG_CODE, seconds)


# -- threads on the real clock ----------------------------------------------------------------


def test_eight_threads_waiting_on_one_sender_keep_to_its_pace() -> None:
    mps = 200
    pacer = Pacer(mps)
    sends: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def sender() -> None:
        start.wait()
        for _ in range(50):
            pacer.wait(LONG_CODE)
            sent = time.monotonic()
            with lock:
                sends.append(sent)

    threads = [threading.Thread(target=sender) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(sends) == 400
    assert most_in_one_second([(t, 1.0) for t in sends]) <= 1.1 * mps + 1
    assert max(sends) - min(sends) >= 399 / mps - 0.01
