"""Measure campaign pacing and the journal's cost, side by side in one run, against sandbox
processes of their own (one without latency, one answering after 200 ms, one after 100 ms).

Printed: achieved rate ÷ configured mps, the busiest wall-clock second ÷ mps (from the creation
times the sandbox records), the rate one process reaches when each answer takes 200 ms, and the
cost of a keyed step (journaled) ÷ an unkeyed one against a sandbox answering after 100 ms.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from twilio_component import Host
from twilio_component.twilio.settings import Settings

SANDBOX = "from twilio_component.sandbox import Sandbox; import json, sys, threading\n" + (
    "s = Sandbox(latency=float(sys.argv[1])).start()\n"
    "print(json.dumps({'base_url': s.base_url, 'account_sid': s.account_sid,"
    " 'auth_token': s.auth_token}), flush=True)\n"
    "threading.Event().wait()\n"
)


@contextmanager
def sandbox(latency: float) -> Iterator[dict[str, Any]]:
    """A sandbox in a process of its own, answering each API request after ``latency`` s."""
    process = subprocess.Popen(
        [sys.executable, "-c", SANDBOX, str(latency)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    try:
        yield json.loads(process.stdout.readline())
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def created_per_second(details: dict[str, Any]) -> Counter[datetime]:
    pair = f"{details['account_sid']}:{details['auth_token']}".encode()
    request = urllib.request.Request(
        f"{details['base_url']}/_sandbox/messages",
        headers={"Authorization": "Basic " + base64.b64encode(pair).decode()},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:  # loopback only
        messages = json.loads(answer.read())["messages"]
    return Counter(
        datetime.fromisoformat(m["created_at"].replace("Z", "+00:00")).replace(microsecond=0)
        for m in messages
    )


def run_campaign(details: dict[str, Any], rows: int, mps: float, concurrency: int) -> float:
    """Seconds the campaign's sending took (its own summary), run by the real command."""
    with tempfile.TemporaryDirectory() as folder:
        where = Path(folder)
        lines = ["phone"] + [f"+1555{i:07d}" for i in range(rows)]
        (where / "r.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        step = {
            "type": "twilio/v1/sendSMS",
            "parameters": {"To": "${row.phone}", "From": "+15005550006", "Body": "Hi"},
        }
        (where / "step.json").write_text(json.dumps(step), encoding="utf-8")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")},
            "TWILIO_ACCOUNT_SID": details["account_sid"],
            "TWILIO_AUTH_TOKEN": details["auth_token"],
            "TWILIO_API_BASE_URL": details["base_url"],
        }
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "twilio_component",
                "campaign",
                "send",
                "r.csv",
                "--step",
                "step.json",
                "--campaign",
                "bench",
                "--mps",
                str(mps),
                "--concurrency",
                str(concurrency),
            ],
            cwd=where,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        summary = json.loads(done.stdout)
        if summary["sent"] != rows:
            raise SystemExit(f"only {summary['sent']} of {rows} sent: {done.stderr}")
        return float(summary["seconds"])


def step_seconds(details: dict[str, Any], steps: int, rounds: int) -> tuple[float, float]:
    """Median seconds per step, unkeyed and keyed (journaled), interleaved in rounds."""
    connection = {"username": details["account_sid"], "password": details["auth_token"]}
    unkeyed: list[float] = []
    keyed: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(base_url=details["base_url"], journal=str(Path(folder) / "j.db"))
        with Host.load(settings) as host:
            for round_ in range(rounds):
                for kind, times in (("plain", unkeyed), ("keyed", keyed)):
                    started = time.perf_counter()
                    for index in range(steps):
                        step = {
                            "type": "twilio/v1/sendSMS",
                            "parameters": {
                                "To": f"+1555{index:07d}",
                                "From": "+15005550006",
                                "Body": f"{kind} {round_}",
                            },
                        }
                        key = f"bench/{round_}/{index}" if kind == "keyed" else None
                        host.execute(step, connection=connection, key=key)
                    times.append((time.perf_counter() - started) / steps)
    return sorted(unkeyed)[len(unkeyed) // 2], sorted(keyed)[len(keyed) // 2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--mps", type=float, default=100.0)
    parser.add_argument("--steps", type=int, default=20, help="steps per round (journal cost)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with sandbox(0.0) as quick:
        seconds = run_campaign(quick, args.rows, args.mps, concurrency=8)
        busiest = max(created_per_second(quick).values())
    with sandbox(0.2) as slow:
        slow_seconds = run_campaign(slow, args.rows, args.mps, concurrency=32)
    with sandbox(0.1) as latent:
        plain, keyed = step_seconds(latent, args.steps, args.rounds)
    achieved = args.rows / seconds
    print(
        f"campaign of {args.rows} at --mps {args.mps:g}: {achieved:.1f} messages/s "
        f"in {seconds:.2f} s; achieved / configured = {achieved / args.mps:.3f}"
    )
    print(f"busiest wall-clock second: {busiest} creates; busiest / mps = {busiest / args.mps:.3f}")
    print(
        f"with 200 ms answers (--concurrency 32): {args.rows / slow_seconds:.1f} messages/s "
        f"in {slow_seconds:.2f} s ({args.rows} rows at --mps {args.mps:g})"
    )
    print(
        f"one step against 100 ms answers: unkeyed {plain * 1000:.1f} ms, keyed "
        f"{keyed * 1000:.1f} ms; keyed / unkeyed = {keyed / plain:.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
