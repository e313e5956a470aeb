"""``twilio-component estimate``: encoding and segments of a body, as Twilio counts them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import FROM, TO, Cli
from hypothesis import given, settings
from hypothesis import strategies as st

from twilio_component.host import Host
from twilio_component.sandbox import Sandbox
from twilio_component.twilio.segments import estimate
from twilio_component.twilio.settings import Settings

EMOJI = "\U0001f600"

# FACTS.md: the vectors of Twilio's public segment calculator tests.
VECTORS: list[Any] = [
    pytest.param("1" * 160, "GSM-7", 1, id="160-digits"),
    pytest.param("1" * 161, "GSM-7", 2, id="161-digits"),
    pytest.param("1" * 307, "GSM-7", 3, id="307-digits"),
    pytest.param("€" + "1" * 158, "GSM-7", 1, id="extension-and-158-digits"),
    pytest.param("€" + "1" * 159, "GSM-7", 2, id="extension-and-159-digits"),
    pytest.param(EMOJI + "a" * 68, "UCS-2", 1, id="emoji-and-68-letters"),
    pytest.param(EMOJI + "a" * 69, "UCS-2", 2, id="emoji-and-69-letters"),
    pytest.param(EMOJI + "a" * 133, "UCS-2", 3, id="emoji-and-133-letters"),
    pytest.param("á" * 70, "UCS-2", 1, id="70-a-acute"),
    pytest.param("á" * 71, "UCS-2", 2, id="71-a-acute"),
]


@pytest.mark.parametrize(("body", "encoding", "segments"), VECTORS)
def test_estimate_gives_the_encoding_and_segments_of_every_published_vector(
    cli: Cli, body: str, encoding: str, segments: int
) -> None:
    result = cli("estimate", "--body", body)
    assert result.code == 0, result.err
    report = result.json()
    assert (report["encoding"], report["segments"]) == (encoding, segments)


def test_estimate_names_the_characters_that_forced_ucs2(cli: Cli) -> None:
    report = cli("estimate", "--body", f"Caf\u00e9 \u00e1 la carte {EMOJI}").json()
    assert report["encoding"] == "UCS-2"
    assert report["unicode_characters"] == ["\u00e1", EMOJI]


def test_estimate_says_what_smart_encoding_would_change(cli: Cli) -> None:
    body = "\u201cSee you\u201d \u2013 it\u2019s " + "a" * 60
    report = cli("estimate", "--body", body).json()
    assert (report["encoding"], report["segments"]) == ("UCS-2", 2)
    assert report["unicode_characters"] == ["\u201c", "\u201d", "\u2013", "\u2019"]
    smart = report["smart_encoding"]
    assert smart["applied"] is False
    assert (smart["encoding"], smart["segments"]) == ("GSM-7", 1)
    assert smart["body"] == '"See you" - it\'s ' + "a" * 60
    assert {r["character"]: r["replacement"] for r in smart["replacements"]} == {
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2019": "'",
    }


def test_smart_encoding_flag_counts_the_replaced_body(cli: Cli) -> None:
    body = "It\u2019s " + "a" * 70
    report = cli("estimate", "--body", body, "--smart-encoding").json()
    assert (report["encoding"], report["segments"]) == ("GSM-7", 1)
    assert report["unicode_characters"] == []
    assert report["smart_encoding"]["applied"] is True


def test_smart_encoding_cannot_save_a_body_with_an_emoji(cli: Cli) -> None:
    report = cli("estimate", "--body", f"Wait\u2026 {EMOJI}", "--smart-encoding").json()
    assert report["encoding"] == "UCS-2"
    assert report["unicode_characters"] == [EMOJI]


def test_estimate_needs_no_credentials_and_sends_nothing(cli: Cli, twilio_sandbox: Sandbox) -> None:
    result = cli("estimate", "--body", "Hello", env={})
    assert result.code == 0, result.err
    assert result.json()["segments"] == 1
    assert twilio_sandbox.requests == []


def test_estimate_without_a_body_is_a_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "twilio_component", "estimate"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--body" in done.stderr


def test_the_installed_command_prints_the_same_json_as_python() -> None:
    body = f"\u00bfQu\u00e9 tal? {EMOJI}"
    done = subprocess.run(
        [sys.executable, "-m", "twilio_component", "estimate", "--body", body],
        capture_output=True,
        encoding="utf-8",
        env={"PYTHONIOENCODING": "utf-8", "PATH": ""},
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == estimate(body)


@pytest.fixture(scope="module")
def billing() -> Iterator[tuple[Host, dict[str, str]]]:
    """A host and the connection of a sandbox of its own, shared by the examples of a test."""
    with Sandbox() as sandbox, Host.load(Settings(base_url=sandbox.base_url)) as host:
        yield host, sandbox.connection


@settings(max_examples=30, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab€{ á\u2019" + EMOJI), min_size=1, max_size=400))
def test_estimate_agrees_with_the_segments_the_sandbox_bills(
    billing: tuple[Host, dict[str, str]], body: str
) -> None:
    host, connection = billing
    step = {"type": "twilio/v1/sendMessage", "parameters": {"To": TO, "From": FROM, "Body": body}}
    output = host.execute(step, connection=connection)
    assert output["numSegments"] == str(estimate(body)["segments"])
