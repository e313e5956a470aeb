"""campaign send --default-region: numbers as people write them, sent and told apart in E.164."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_campaign import messages, sandbox, send, write

from twilio_component.phone_numbers import NumberError, to_e164

__all__ = ["sandbox"]  # the fixture, used by name

WRITTEN = ["(415) 867-5301,a", "415.867.5302,b", "+1 415 867 5301,c"]


def test_a_number_not_valid_in_the_region_is_named_by_its_line_and_nothing_is_sent(
    sandbox: dict[str, Any], tmp_path: Path
) -> None:
    files = write(tmp_path, [*WRITTEN, "415-867-53,d"])
    done = send(sandbox, tmp_path, files, "--default-region", "US")
    assert done.returncode == 2
    assert "line 5: To: '415-867-53' is too short for US" in done.stderr
    assert "line 2" not in done.stderr
    assert messages(sandbox) == []


def test_national_numbers_are_sent_in_e164_each_once(
    sandbox: dict[str, Any], tmp_path: Path
) -> None:
    done = send(sandbox, tmp_path, write(tmp_path, WRITTEN), "--default-region", "US")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["sent"], summary["duplicates"]) == (2, 1)
    sent = sorted((m["to"], m["body"]) for m in messages(sandbox))
    assert sent == [("+14158675301", "Hi a"), ("+14158675302", "Hi b")]


def test_without_a_region_national_numbers_are_refused_as_before(
    sandbox: dict[str, Any], tmp_path: Path
) -> None:
    done = send(sandbox, tmp_path, write(tmp_path, WRITTEN))
    assert done.returncode == 2
    assert "line 2: To: '(415) 867-5301'" in done.stderr


def test_an_unknown_region_is_bad_usage(sandbox: dict[str, Any], tmp_path: Path) -> None:
    done = send(sandbox, tmp_path, write(tmp_path, WRITTEN), "--default-region", "XX")
    assert done.returncode == 2
    assert "--default-region" in done.stderr
    assert "'XX' is not a country code" in done.stderr


@pytest.mark.parametrize(
    ("written", "region", "e164"),
    [
        ("(415) 867-5309", "US", "+14158675309"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("whatsapp:(415) 867-5309", "US", "whatsapp:+14158675309"),
    ],
)
def test_numbers_read_in_a_region_become_e164(written: str, region: str, e164: str) -> None:
    assert to_e164(written, region) == e164


@given(st.text(max_size=30))
def test_any_text_is_e164_or_a_number_error(text: str) -> None:
    try:
        result = to_e164(text, "US")
    except NumberError as error:
        reason = str(error)
        result = None
    if result is None:
        assert reason
    else:
        assert result.rpartition(":")[2].startswith("+")
        assert to_e164(result, "DE") == result  # E.164 reads the same from any region
