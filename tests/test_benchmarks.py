"""The benchmark scripts run and print their figures (people judge the figures, not tests)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_sandbox_throughput_prints_a_rate_for_each_kind_of_client() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "sandbox_throughput.py"), "--seconds", "0.3"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rates = [int(n) for n in re.findall(r": (\d+)$", done.stdout, flags=re.MULTILINE)]
    assert len(rates) == 2
    assert all(rate > 0 for rate in rates)


def test_webhook_throughput_prints_its_rates_and_each_webhook_is_one_event() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "webhook_throughput.py"), "--requests", "100"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "100 events for 100 webhooks" in done.stdout
    assert "(all duplicates)" in done.stdout
    assert re.search(r"ratio HTTP / target 1,000/s: \d+\.\d\d", done.stdout)


def test_campaign_scale_prints_each_measure_for_each_size_and_its_growth() -> None:
    done = subprocess.run(
        [
            *(sys.executable, str(BENCHMARKS / "campaign_scale.py")),
            *("--sizes", "100,200", "--celery", "--plan", "500"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for measure in ("cpu ms/row", "peak RSS MB", "report RSS MB", "Redis peak MB", "submit s"):
        assert re.search(rf"^  {re.escape(measure)} +[\d.]+ +[\d.]+ +[\d.]+x$", done.stdout, re.M)
    assert "nothing sent (500 rows)" in done.stdout
