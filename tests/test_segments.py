"""Specification of SMS segment arithmetic and Smart Encoding."""

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twilio_component.twilio.segments import (
    GSM_BASIC,
    GSM_CHARACTERS,
    GSM_EXTENSION,
    SMART_ENCODING_REPLACEMENTS,
    Segments,
    count_segments,
    estimate,
    smart_encode,
)

EMOJI = "\N{THUMBS UP SIGN}"
gsm_text = st.text(alphabet=sorted(GSM_CHARACTERS), max_size=800)
any_text = st.text(max_size=800)
#: No wall-clock deadline per example (Hypothesis' default is 200 ms, and 1 s for generating
#: the first examples): a loaded machine must not fail a property that holds.
no_deadline = settings(deadline=None)


def filled(chars: list[str], per_segment: int) -> str:
    """Pad with one-unit characters until the units exactly fill whole concatenated segments."""
    body = "".join(chars)
    units = len(body.encode("utf-16-le")) // 2 + sum(body.count(c) for c in GSM_EXTENSION)
    one_unit = "a" if count_segments(body).encoding == "GSM-7" else "á"
    return body + one_unit * (-units % per_segment)


# Bodies dense in two-unit characters that exactly fill their segments: any pair straddling a
# boundary then costs one more segment.
boundary_text = st.one_of(
    st.lists(st.sampled_from("a{€"), min_size=150, max_size=700).map(lambda c: filled(c, 153)),
    st.lists(st.sampled_from("á\N{THUMBS UP SIGN}"), min_size=60, max_size=300).map(
        lambda c: filled(c, 67)
    ),
)


def packed_segments(costs: list[int], single: int, per_segment: int) -> int:
    """Naive greedy packing, one character at a time: the oracle for count_segments."""
    if sum(costs) <= single:
        return 1
    segments, used = 1, 0
    for cost in costs:
        if used + cost > per_segment:
            segments, used = segments + 1, 0
        used += cost
    return segments


def oracle(body: str) -> tuple[str, int, int]:
    if all(char in GSM_CHARACTERS for char in body):
        costs = [2 if char in GSM_EXTENSION else 1 for char in body]
        return "GSM-7", packed_segments(costs, 160, 153), sum(costs)
    costs = [2 if ord(char) > 0xFFFF else 1 for char in body]
    return "UCS-2", packed_segments(costs, 70, 67), sum(costs)


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("1" * 160, 1),
        ("1" * 161, 2),
        ("1" * 306, 2),
        ("1" * 307, 3),
        ("€" + "1" * 158, 1),
        ("€" + "1" * 159, 2),
        (EMOJI + "a" * 68, 1),
        (EMOJI + "a" * 69, 2),
        (EMOJI + "a" * 133, 3),
        ("á" * 70, 1),
        ("á" * 71, 2),
    ],
)
def test_published_vectors_give_the_published_segment_counts(body: str, segments: int) -> None:
    assert count_segments(body).segments == segments


def test_an_empty_body_is_one_gsm_segment() -> None:
    assert count_segments("") == Segments("GSM-7", 1, 0, ())


def test_extension_characters_cost_two_septets() -> None:
    assert count_segments("\f[\\]^{|}~€").units == 20


def test_every_basic_table_character_costs_one_septet() -> None:
    body = "".join(sorted(GSM_BASIC))
    assert count_segments(body) == Segments("GSM-7", 1, 127, ())


def test_backtick_forces_ucs2() -> None:
    assert count_segments("it`s").encoding == "UCS-2"


def test_an_emoji_costs_two_utf16_units() -> None:
    assert count_segments(EMOJI).units == 2


def test_characters_that_forced_ucs2_are_listed_once_in_order() -> None:
    result = count_segments("çafé ç " + EMOJI + " ç")
    assert result.unicode_characters == ("ç", EMOJI)


def test_an_escape_pair_moves_whole_to_the_next_segment() -> None:
    # 152 septets, then "€" would occupy septets 153 and 154: it moves to segment two.
    body = "a" * 152 + "€" + "a" * 152
    assert count_segments(body).units == 306
    assert count_segments(body).segments == 3


def test_a_surrogate_pair_moves_whole_to_the_next_segment() -> None:
    body = "á" * 66 + EMOJI + "á" * 66
    assert count_segments(body).units == 134
    assert count_segments(body).segments == 3


@no_deadline
@given(gsm_text)
def test_gsm_only_bodies_are_never_ucs2(body: str) -> None:
    assert count_segments(body).encoding == "GSM-7"


@no_deadline
@given(st.one_of(any_text, gsm_text, boundary_text))
def test_counts_agree_with_character_by_character_packing(body: str) -> None:
    result = count_segments(body)
    assert (result.encoding, result.segments, result.units) == oracle(body)


@no_deadline
@given(gsm_text, st.sampled_from(sorted(GSM_CHARACTERS)))
def test_appending_a_gsm_character_never_reduces_segments(body: str, char: str) -> None:
    assert count_segments(body + char).segments >= count_segments(body).segments


@no_deadline
@given(gsm_text)
def test_multipart_gsm_segments_hold_every_septet(body: str) -> None:
    result = count_segments(body)
    if result.segments > 1:
        assert result.segments * 153 >= result.units > 160


@no_deadline
@given(any_text)
def test_ucs2_units_are_utf16_code_units(body: str) -> None:
    result = count_segments(body)
    if result.encoding == "UCS-2":
        assert result.units == len(body.encode("utf-16-le")) // 2
        assert result.segments * 67 >= result.units


def test_counting_a_body_a_hundred_times_the_longest_takes_no_catastrophic_time() -> None:
    # How fast counting is belongs to benchmarks, not to a unit test. This guards only against
    # a catastrophic regression (rescanning the body for each character), with a bound that no
    # loaded machine comes near: the CPU time of this thread alone (what other processes do
    # does not count), under 5 s for 160,000 characters, which take about 5 ms when counting
    # is linear and at least 10^10 steps when it is quadratic.
    for unit in ("x", "{café} € ", "héllo " + EMOJI):
        body = (unit * 160_000)[:160_000]
        started = time.thread_time()
        result = count_segments(body)
        assert time.thread_time() - started < 5.0
        assert (result.encoding, result.segments, result.units) == oracle(body)


def test_smart_encoding_replacements_are_all_gsm_text() -> None:
    for original, replacement in SMART_ENCODING_REPLACEMENTS.items():
        assert original not in GSM_CHARACTERS
        assert count_segments(replacement).encoding == "GSM-7"


def test_smart_encoding_straightens_quotes_dashes_ellipsis_and_spaces() -> None:
    body, applied = smart_encode(
        "\u201cHi\u201d \u2014 it\u2019s\u00a0ok\u2026 \u2013 \u2018x\u2019"
    )
    assert body == "\"Hi\" - it's ok... - 'x'"
    assert applied == (
        ("\u201c", '"'),
        ("\u201d", '"'),
        ("\u2014", "-"),
        ("\u2019", "'"),
        ("\u00a0", " "),
        ("\u2026", "..."),
        ("\u2013", "-"),
        ("\u2018", "'"),
    )


def test_smart_encoding_leaves_gsm_and_unmapped_characters_alone() -> None:
    assert smart_encode("Grüße {€} " + EMOJI) == ("Grüße {€} " + EMOJI, ())


@no_deadline
@given(gsm_text)
def test_smart_encoding_never_changes_a_gsm_body(body: str) -> None:
    assert smart_encode(body) == (body, ())


def test_estimate_reports_the_original_body_and_what_smart_encoding_would_do() -> None:
    report = estimate("It\u2019s " + "a" * 70)
    assert report == {
        "encoding": "UCS-2",
        "segments": 2,
        "characters": 75,
        "units": 75,
        "unicode_characters": ["\u2019"],
        "smart_encoding": {
            "applied": False,
            "body": "It's " + "a" * 70,
            "encoding": "GSM-7",
            "segments": 1,
            "replacements": [{"character": "\u2019", "replacement": "'"}],
            "unicode_characters": [],
        },
    }


def test_estimate_with_smart_encoding_describes_the_replaced_body() -> None:
    report = estimate("Wait\u2026 " + EMOJI, smart_encoding=True)
    assert report["smart_encoding"]["applied"] is True
    assert report["smart_encoding"]["body"] == "Wait... " + EMOJI
    assert report["characters"] == 9
    assert report["units"] == 10
    assert report["encoding"] == "UCS-2"
    assert report["unicode_characters"] == [EMOJI]


@no_deadline
@given(any_text, st.booleans())
def test_estimate_is_json_ready(body: str, smart: bool) -> None:
    report = estimate(body, smart_encoding=smart)
    assert json.loads(json.dumps(report)) == report
