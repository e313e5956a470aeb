"""Quiet hours: a send window in the recipients' local time; rows outside it are deferred, counted,
and sent once by a later run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import FROM, Cli
from hypothesis import given
from hypothesis import strategies as st

from twilio_component.campaign.hours import SendWindow
from twilio_component.sandbox import Sandbox

NEW_YORK = "+12125551234"
HONOLULU = "+18085551234"
# 15:00 UTC: 10:00 (or 11:00) in New York, 05:00 in Honolulu.
AFTERNOON_UTC = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def test_a_window_is_open_where_it_is_daytime_and_closed_where_it_is_night() -> None:
    window = SendWindow.parse("08:00-21:00")
    assert window.is_open(window.zones_of(NEW_YORK), AFTERNOON_UTC)
    assert not window.is_open(window.zones_of(HONOLULU), AFTERNOON_UTC)


def test_every_zone_of_a_number_must_be_inside_the_window() -> None:
    window = SendWindow.parse("08:00-21:00")
    assert not window.is_open(("America/New_York", "Pacific/Honolulu"), AFTERNOON_UTC)


def test_a_number_without_a_zone_takes_the_fallback_and_without_one_has_none() -> None:
    assert SendWindow.parse("08:00-21:00").zones_of("+99912345") == ()
    with_fallback = SendWindow.parse("08:00-21:00", fallback="Europe/Berlin")
    assert with_fallback.zones_of("+99912345") == ("Europe/Berlin",)


def test_a_window_past_midnight_wraps() -> None:
    night = SendWindow.parse("22:00-06:00")
    assert night.is_open(("UTC",), AFTERNOON_UTC.replace(hour=23))
    assert night.is_open(("UTC",), AFTERNOON_UTC.replace(hour=5))
    assert not night.is_open(("UTC",), AFTERNOON_UTC.replace(hour=12))


def test_opens_in_is_the_wait_until_the_window_opens_to_the_minute() -> None:
    window = SendWindow.parse("08:00-21:00")
    assert window.opens_in(("Pacific/Honolulu",), AFTERNOON_UTC) == 3 * 3600  # 05:00 → 08:00
    assert window.opens_in(("America/New_York",), AFTERNOON_UTC) == 0


@pytest.mark.parametrize(
    "text", ["8-21", "08:00", "25:00-26:00", "08:00-08:00", "08:60-09:00", "08:00-24:30"]
)
def test_a_malformed_window_says_what_is_wrong(text: str) -> None:
    with pytest.raises(ValueError, match=r"window|24:00|empty"):
        SendWindow.parse(text)


def test_an_unknown_fallback_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="IANA"):
        SendWindow.parse("08:00-21:00", fallback="Mars/Olympus")


@given(
    st.integers(0, 23),
    st.integers(0, 23),
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
)
def test_waiting_opens_in_seconds_lands_inside_the_window(
    start: int, end: int, now: datetime
) -> None:
    if start == end:
        return
    window = SendWindow.parse(f"{start:02d}:00-{end:02d}:00")
    zones = ("Europe/Berlin",)
    wait = window.opens_in(zones, now)
    assert wait is not None
    assert window.is_open(zones, now + timedelta(seconds=wait))


# -- campaigns -------------------------------------------------------------------------------


def window_open_in_new_york_only(now: datetime) -> str:
    """A two-hour window around New York's hour now, which is night in Honolulu (5-6 hours
    behind)."""
    from zoneinfo import ZoneInfo

    hour = now.astimezone(ZoneInfo("America/New_York")).hour
    return f"{hour:02d}:00-{(hour + 2) % 24:02d}:00"


def write_campaign(tmp_path: Path) -> tuple[str, str]:
    rows = tmp_path / "r.csv"
    rows.write_text(f"phone\n{NEW_YORK}\n{HONOLULU}\n", encoding="utf-8")
    step = tmp_path / "step.json"
    parameters = {"To": "${row.phone}", "From": FROM, "Body": "Sale"}
    step.write_text(json.dumps({"type": "twilio/v1/sendSMS", "parameters": parameters}))
    return str(rows), str(step)


def test_a_campaign_sends_inside_the_window_and_defers_the_rest_once(
    cli: Cli, twilio_sandbox: Sandbox, tmp_path: Path
) -> None:
    rows, step = write_campaign(tmp_path)
    journal = str(tmp_path / "j.db")
    window = window_open_in_new_york_only(datetime.now(UTC))
    argv: tuple[str, ...] = ("campaign", "send", rows, "--step", step, "--campaign", "c")
    argv += ("--send-window", window, "--journal", journal)
    first = cli(*argv)
    assert first.code == 4, first.err
    summary: dict[str, Any] = first.json()
    assert (summary["sent"], summary["deferred"]) == (1, 1)
    assert "deferred" in first.err
    assert [m["to"] for m in twilio_sandbox.messages] == [NEW_YORK]
    status = cli("campaign", "status", "c", "--journal", journal).json()
    assert (status["sent"], status["deferred"]) == (1, 1)
    second = cli(*argv).json()
    assert (second["already_done"], second["deferred"]) == (1, 1)
    assert [m["to"] for m in twilio_sandbox.messages] == [NEW_YORK]


def test_a_number_without_a_zone_needs_timezone_before_anything_is_sent(
    cli: Cli, twilio_sandbox: Sandbox, tmp_path: Path
) -> None:
    _, step = write_campaign(tmp_path)
    rows = tmp_path / "r.csv"
    rows.write_text("phone\n+882123456789\n", encoding="utf-8")  # an international network
    argv = ("campaign", "send", str(rows), "--step", step, "--campaign", "c")
    done = cli(*argv, "--send-window", "08:00-21:00", "--journal", str(tmp_path / "j.db"))
    assert done.code == 2
    assert "line 2: To: '+882123456789' has no time zone" in done.err
    assert twilio_sandbox.messages == []


def test_a_bad_send_window_flag_is_exit_2(cli: Cli, tmp_path: Path) -> None:
    rows, step = write_campaign(tmp_path)
    done = cli("campaign", "send", rows, "--step", step, "--campaign", "c", "--send-window", "9-5")
    assert done.code == 2
    assert "--send-window" in done.err
