"""The pace shared through Redis: one schedule per sender for every worker, atomic, on Redis's
clock; a cap on requests in flight whose places expire. Against a real Redis server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twilio_component.distributed.app import make_app
from twilio_component.distributed.shared_pace import SharedPacer


@pytest.fixture
def pacer(redis_server: Any) -> SharedPacer:
    return SharedPacer(redis_server.url)


def test_a_new_sender_sends_at_once(pacer: SharedPacer) -> None:
    assert pacer.reserve("+15005550006", 1, 10) == 0


def test_reservations_are_spaced_by_cost_over_rate(pacer: SharedPacer) -> None:
    waits = [pacer.reserve("+15005550006", 1, 10) for _ in range(5)]
    # Each slot 0.1 s after the one before (less the few microseconds between the calls).
    for i, wait in enumerate(waits[1:], start=1):
        assert wait == pytest.approx(0.1 * i, abs=0.02)


def test_a_two_segment_message_takes_two_slots(pacer: SharedPacer) -> None:
    pacer.reserve("+15005550006", 2, 10)
    assert pacer.reserve("+15005550006", 1, 10) == pytest.approx(0.2, abs=0.02)


def test_senders_are_paced_separately(pacer: SharedPacer) -> None:
    pacer.reserve("+15005550006", 1, 1)
    assert pacer.reserve("+15005550007", 1, 1) == 0


def test_many_threads_at_once_each_book_a_slot_of_their_own(
    pacer: SharedPacer, redis_server: Any
) -> None:
    import redis

    client = redis.Redis.from_url(redis_server.url)
    seconds, micros = client.time()
    before = seconds + micros / 1e6
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: pacer.reserve("+1", 1, 100), range(200)))
    booked = float(client.hget("twilio-component:pace:+1", "booked") or 0)
    # 200 slots of 10 ms each, none shared: the schedule ends at least 2 s after it began
    # (later only by how long the first call took to arrive).
    assert 1.999 <= booked - before < 3.0


def test_two_pacers_on_one_redis_share_one_schedule(redis_server: Any) -> None:
    first, second = SharedPacer(redis_server.url), SharedPacer(redis_server.url)
    first.reserve("+1", 1, 10)
    assert second.reserve("+1", 1, 10) == pytest.approx(0.1, abs=0.02)


def test_slow_down_halves_the_rate_for_every_worker(redis_server: Any) -> None:
    first, second = SharedPacer(redis_server.url), SharedPacer(redis_server.url)
    assert first.slow_down("+1", 10) == pytest.approx(5, abs=0.1)
    second.reserve("+1", 1, 10)
    assert second.reserve("+1", 1, 10) == pytest.approx(0.2, abs=0.03)


def test_slow_down_never_goes_below_a_tenth(pacer: SharedPacer) -> None:
    for _ in range(10):
        rate = pacer.slow_down("+1", 10)
    assert rate == pytest.approx(1.0, abs=0.05)


def test_pause_gives_no_slot_until_it_ends(pacer: SharedPacer) -> None:
    pacer.pause("+1", 30)
    assert pacer.reserve("+1", 1, 10) == pytest.approx(30, abs=0.1)


def test_the_cap_refuses_a_place_beyond_it_and_gives_it_back(pacer: SharedPacer) -> None:
    tokens = [pacer.enter(2, 60) for _ in range(3)]
    assert tokens[0]
    assert tokens[1]
    assert tokens[2] is None
    pacer.leave(str(tokens[0]))
    assert pacer.enter(2, 60) is not None


def test_a_place_of_a_killed_worker_expires(pacer: SharedPacer) -> None:
    assert pacer.enter(1, 0.2) is not None  # never left: its worker died
    import time

    time.sleep(0.4)
    assert pacer.enter(1, 60) is not None


@settings(max_examples=30, deadline=None)
@given(st.floats(min_value=-1e9, max_value=0) | st.just(float("nan")) | st.just(float("inf")))
def test_a_rate_or_cost_that_is_not_positive_is_refused(value: float) -> None:
    pacer = SharedPacer("redis://127.0.0.1:1/0")  # never reached: refused before any call
    with pytest.raises(ValueError, match="positive"):
        pacer.reserve("+1", 1, value)
    with pytest.raises(ValueError, match="positive"):
        pacer.reserve("+1", value, 1)


def test_the_app_acknowledges_late_prefetches_one_and_speaks_json() -> None:
    conf = make_app("redis://127.0.0.1:6379/0").conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert conf.broker_transport_options["visibility_timeout"] >= 600
