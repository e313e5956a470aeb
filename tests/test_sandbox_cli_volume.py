"""The sandbox command's volume options: --latency delays answers, --max-concurrent answers 429."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from conftest import FROM, TO


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}


@contextmanager
def served(*options: str) -> Iterator[dict[str, str]]:
    """A `twilio-component sandbox` process with `options`: its first JSON line."""
    child = subprocess.Popen(
        [sys.executable, "-m", "twilio_component", "sandbox", *options],
        stdout=subprocess.PIPE,
        text=True,
        env=_environment(),
    )
    try:
        assert child.stdout is not None
        yield json.loads(child.stdout.readline())
    finally:
        child.terminate()
        child.wait(timeout=10)


def create(sandbox: dict[str, str], body: str) -> requests.Response:
    return requests.post(
        f"{sandbox['base_url']}/2010-04-01/Accounts/{sandbox['account_sid']}/Messages.json",
        data={"To": TO, "From": FROM, "Body": body},
        auth=(sandbox["account_sid"], sandbox["auth_token"]),
        timeout=30,
    )


def test_latency_delays_each_answer_by_that_many_milliseconds() -> None:
    with served("--latency", "200") as sandbox:
        started = time.monotonic()
        answer = create(sandbox, "slow")
        elapsed = time.monotonic() - started
    assert answer.status_code == 201
    assert elapsed >= 0.2


def test_max_concurrent_answers_a_crowded_create_429_with_code_20429() -> None:
    with served("--latency", "300", "--max-concurrent", "1") as sandbox:
        together = threading.Barrier(2)
        answers: list[requests.Response] = []

        def send(body: str) -> None:
            together.wait()
            answers.append(create(sandbox, body))

        threads = [threading.Thread(target=send, args=(f"crowded {n}",)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert sorted(a.status_code for a in answers) == [201, 429]
    refused: dict[str, Any] = next(a for a in answers if a.status_code == 429).json()
    assert refused["code"] == 20429


@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [
        ("--latency", "-1", "0 to 3600000 milliseconds"),
        ("--latency", "0.5", "not a whole number of milliseconds"),
        ("--latency", "soon", "not a whole number of milliseconds"),
        ("--max-concurrent", "0", "less than 1"),
        ("--max-concurrent", "many", "not a whole number"),
    ],
)
def test_a_bad_latency_or_concurrency_exits_2_saying_why(
    option: str, value: str, reason: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "twilio_component", "sandbox", option, value],
        capture_output=True,
        text=True,
        env=_environment(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert option in result.stderr
    assert reason in result.stderr
    assert result.stdout == ""
