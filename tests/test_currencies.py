"""Specification of the ISO 4217 currency lookup."""

import re

import pytest

from twilio_component.twilio.currencies import ISO_4217, currency


@pytest.mark.parametrize(
    ("code", "numeric", "digits"),
    [
        ("USD", 840, 2),
        ("EUR", 978, 2),
        ("GBP", 826, 2),
        ("JPY", 392, 0),
        ("BHD", 48, 3),
        ("KWD", 414, 3),
        ("CLF", 990, 4),
        ("XAU", 959, -1),
        ("XDR", 960, -1),
        ("XXX", 999, -1),
    ],
)
def test_known_codes_give_their_numeric_code_and_minor_units(
    code: str, numeric: int, digits: int
) -> None:
    assert currency(code) == {
        "currencyCode": code,
        "defaultFractionDigits": digits,
        "numericCode": numeric,
    }


def test_lookup_is_case_insensitive_and_answers_in_upper_case() -> None:
    assert currency("usd") == currency("USD")
    assert currency("eUr") == {
        "currencyCode": "EUR",
        "defaultFractionDigits": 2,
        "numericCode": 978,
    }


@pytest.mark.parametrize("code", [None, "", "   "])
def test_no_code_gives_no_currency(code: str | None) -> None:
    assert currency(code) is None


def test_an_unknown_code_keeps_its_code_with_unknown_numbers() -> None:
    assert currency("abc") == {
        "currencyCode": "ABC",
        "defaultFractionDigits": -1,
        "numericCode": -1,
    }


def test_withdrawn_codes_are_unknown() -> None:
    assert currency("HRK") == {
        "currencyCode": "HRK",
        "defaultFractionDigits": -1,
        "numericCode": -1,
    }


def test_the_table_covers_the_active_list() -> None:
    assert len(ISO_4217) >= 150


def test_every_code_is_three_upper_case_letters() -> None:
    assert all(re.fullmatch(r"[A-Z]{3}", code) for code in ISO_4217)


def test_numeric_codes_are_unique_and_in_range() -> None:
    numerics = [numeric for numeric, _ in ISO_4217.values()]
    assert len(set(numerics)) == len(numerics)
    assert all(0 < numeric < 1000 for numeric in numerics)


def test_minor_units_are_minus_one_to_four() -> None:
    assert {digits for _, digits in ISO_4217.values()} <= {-1, 0, 2, 3, 4}
