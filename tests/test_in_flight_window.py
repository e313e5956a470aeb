"""How many requests a campaign keeps in flight: found from how fast answers come, halved on a
429, and a feeder waiting for room is woken even when the window shrinks under it."""

from __future__ import annotations

import threading

from hypothesis import given
from hypothesis import strategies as st

from twilio_component.campaign.window import MEMORY, Window


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def answer(window: Window, latency: float, *, crowded: bool = False) -> None:
    window.take(block=False)
    window.give_back(crowded=crowded, latency=latency)


def test_it_starts_with_one_request_and_opens_while_answers_stay_as_fast() -> None:
    window = Window(32, clock=Clock())
    assert int(window.size) == 1
    for _ in range(40):
        answer(window, 0.2)  # a distant service: every answer takes as long, however many
    assert int(window.size) == 32


def test_it_closes_when_answers_come_slower_than_the_fastest_recent_one() -> None:
    window = Window(32, initial=8, clock=Clock())
    answer(window, 0.001)
    for _ in range(60):
        answer(window, 0.004)  # requests queue: four times the fastest answer
    assert int(window.size) == 1


def test_answers_somewhat_slower_than_the_fastest_hold_it_where_it_is() -> None:
    window = Window(32, initial=4, clock=Clock())
    answer(window, 0.001)
    for _ in range(100):
        answer(window, 0.002)  # twice the fastest: between FAST and SLOW once smoothed
    size = window.size
    for _ in range(100):
        answer(window, 0.002)
    assert window.size == size


def test_a_429_halves_it() -> None:
    window = Window(32, initial=16, clock=Clock())
    answer(window, 0.0, crowded=True)
    assert window.size == 8


def test_each_period_it_halves_to_measure_the_fastest_answer_again() -> None:
    clock = Clock()
    window = Window(32, initial=20, clock=clock)
    answer(window, 0.01)
    clock.now += MEMORY
    window.take(block=False)
    window.give_back(crowded=False, latency=0.5)  # slower: it is halved, then closes by one
    assert window.size <= 10


@given(st.lists(st.tuples(st.floats(0.0001, 2.0), st.booleans()), max_size=200))
def test_it_stays_between_one_and_its_largest_whatever_the_answers(
    answers: list[tuple[float, bool]],
) -> None:
    window = Window(8, clock=Clock())
    for latency, crowded in answers:
        answer(window, latency, crowded=crowded)
        assert 1 <= window.size <= 8
    assert window.in_flight == 0


def test_a_feeder_waiting_for_more_room_than_a_shrunk_window_holds_is_woken() -> None:
    window = Window(8, initial=8, clock=Clock())
    for _ in range(8):
        window.take(block=False)
    taken = threading.Event()

    def feeder() -> None:
        window.take(block=True, room=4)  # wants four places free before it wakes
        taken.set()

    thread = threading.Thread(target=feeder, daemon=True)
    thread.start()
    window.give_back(crowded=True)  # 8 → 4
    window.give_back(crowded=True)  # 4 → 2
    window.give_back(crowded=True)  # 2 → 1: it can never hold four free places again
    for _ in range(5):
        window.give_back(crowded=False)
    assert taken.wait(10), "the feeder was never woken"
    thread.join(10)
