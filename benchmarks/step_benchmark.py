"""Side-by-side step costs against one sandbox process: ours, bare requests, the official SDK.

Run: ``python benchmarks/step_benchmark.py`` (the dev or CI venv, with the `twilio` SDK
installed). The sandbox runs in its own process so that it does not share the clients' GIL.
Contenders are interleaved in rounds and medians reported with the min-max over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

TO, FROM, BODY = "+15558675310", "+15005550006", "Benchmark"
STEP = {"type": "twilio/v1/sendSMS", "parameters": {"To": TO, "From": FROM, "Body": BODY}}
BIN = Path(sys.executable).parent


@contextmanager
def sandbox_process() -> Iterator[dict[str, str]]:
    """A `twilio-component sandbox` in a child process; yields its base_url and credentials."""
    child = subprocess.Popen(
        [sys.executable, "-m", "twilio_component", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        yield json.loads(child.stdout.readline())
    finally:
        child.terminate()
        child.wait(timeout=10)


def per_step(info: dict[str, str], rounds: int, calls: int) -> dict[str, list[float]]:
    """Microseconds per call for each contender, one figure per round."""
    from twilio.rest import Client

    from twilio_component import Host, Settings

    host = Host.load(Settings(base_url=info["base_url"]))
    connection = {"username": info["account_sid"], "password": info["auth_token"]}
    session = requests.Session()
    url = f"{info['base_url']}/2010-04-01/Accounts/{info['account_sid']}/Messages.json"
    auth = (info["account_sid"], info["auth_token"])
    sdk = Client(info["account_sid"], info["auth_token"])
    sdk.api.base_url = info["base_url"]  # the SDK's own knob for its API root

    def ours() -> None:
        host.execute(STEP, connection=connection)

    def bare() -> None:
        session.post(url, data={"To": TO, "From": FROM, "Body": BODY}, auth=auth)

    def official() -> None:
        sdk.messages.create(to=TO, from_=FROM, body=BODY)

    contenders: dict[str, Callable[[], None]] = {"ours": ours, "bare": bare, "sdk": official}
    for call in contenders.values():  # warm up: connections, caches
        for _ in range(50):
            call()
    results: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, call in contenders.items():
            started = time.perf_counter()
            for _ in range(calls):
                call()
            results[name].append((time.perf_counter() - started) / calls * 1e6)
    host.close()
    return results


def threads(info: dict[str, str], rounds: int, calls: int) -> dict[str, list[float]]:
    """Steps per second from 8 threads sharing one Host vs 8 threads with a bare session each."""
    from twilio_component import Host, Settings

    host = Host.load(Settings(base_url=info["base_url"]))
    connection = {"username": info["account_sid"], "password": info["auth_token"]}
    url = f"{info['base_url']}/2010-04-01/Accounts/{info['account_sid']}/Messages.json"
    auth = (info["account_sid"], info["auth_token"])
    sessions = [requests.Session() for _ in range(8)]

    def shared_host(index: int) -> None:
        for _ in range(calls):
            host.execute(STEP, connection=connection)

    def own_session(index: int) -> None:
        for _ in range(calls):
            sessions[index].post(url, data={"To": TO, "From": FROM, "Body": BODY}, auth=auth)

    def rate(work: Callable[[int], None]) -> float:
        workers = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return 8 * calls / (time.perf_counter() - started)

    rate(shared_host)
    rate(own_session)
    results: dict[str, list[float]] = {"one host": [], "bare sessions": []}
    for _ in range(rounds):
        results["one host"].append(rate(shared_host))
        results["bare sessions"].append(rate(own_session))
    host.close()
    return results


def wall(command: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return (time.perf_counter() - started) * 1000


def cold_start(rounds: int) -> dict[str, list[float]]:
    """Milliseconds for whole processes: our import, the SDK's import, a whole sandbox send."""
    python = sys.executable
    send = [
        python,
        "-m",
        "twilio_component",
        "send",
        "--sandbox",
        "--to",
        TO,
        "--from",
        FROM,
        "--body",
        BODY,
    ]
    script = BIN / "twilio-component"
    if script.exists():
        send = [str(script), *send[3:]]
    results: dict[str, list[float]] = {
        "import twilio_component": [],
        "from twilio.rest import Client": [],
        "send --sandbox": [],
    }
    for _ in range(rounds):
        results["import twilio_component"].append(wall([python, "-c", "import twilio_component"]))
        results["from twilio.rest import Client"].append(
            wall([python, "-c", "from twilio.rest import Client"])
        )
        results["send --sandbox"].append(wall(send))
    return results


MEMORY_CHILD = """
import resource, sys
from twilio_component import Host, Settings
info = {"base_url": sys.argv[1], "account_sid": sys.argv[2], "auth_token": sys.argv[3]}
host = Host.load(Settings(base_url=info["base_url"]))
conn = {"username": info["account_sid"], "password": info["auth_token"]}
step = {"type": "twilio/v1/sendSMS", "parameters": {"To": "+15558675310", "From": "+15005550006", "Body": "m"}}
for _ in range(int(sys.argv[4])):
    host.execute(step, connection=conn)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def memory(info: dict[str, str], steps: int) -> float:
    """Peak RSS in MB of a process that ran ``steps`` steps."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            MEMORY_CHILD,
            info["base_url"],
            info["account_sid"],
            info["auth_token"],
            str(steps),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(out.strip()) / 1024


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):9.1f}  (min {min(values):.1f}, max {max(values):.1f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=300, help="calls per contender per round")
    parser.add_argument(
        "--quick", action="store_true", help="fewer rounds and calls, for a smoke run"
    )
    args = parser.parse_args(argv)
    rounds, calls = (3, 50) if args.quick else (args.rounds, args.calls)
    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; rounds={rounds}, calls={calls}"
    )
    with sandbox_process() as info:
        steps = per_step(info, rounds, calls)
        print("\n1. per step, microseconds (median over rounds)")
        for name, values in steps.items():
            print(f"   {name:<6} {summary(values)}")
        ours, bare, sdk = (statistics.median(steps[k]) for k in ("ours", "bare", "sdk"))
        per_round_bare = [o / b for o, b in zip(steps["ours"], steps["bare"], strict=True)]
        per_round_sdk = [o / s for o, s in zip(steps["ours"], steps["sdk"], strict=True)]
        print(
            f"   Host.execute / requests.Session().post = {ours / bare:.2f} (rounds {min(per_round_bare):.2f}-{max(per_round_bare):.2f}; target <= 0.85)"
        )
        print(
            f"   Host.execute / twilio SDK create       = {ours / sdk:.2f} (rounds {min(per_round_sdk):.2f}-{max(per_round_sdk):.2f}; target <= 0.75)"
        )

        rates = threads(info, rounds, max(10, calls // 8))
        print("\n2. 8 threads, steps per second")
        for name, values in rates.items():
            print(f"   {name:<13} {summary(values)}")
        shared, bare_rate = (
            statistics.median(rates["one host"]),
            statistics.median(rates["bare sessions"]),
        )
        print(f"   one Host / bare sessions = {shared / bare_rate:.2f} (target >= 0.95)")

        small, large = (100, 1000) if args.quick else (100, 10_000)
        low, high = memory(info, small), memory(info, large)
        print(
            f"\n4. peak RSS: {low:.1f} MB after {small} steps, {high:.1f} MB after {large}: growth {high - low:.1f} MB (target <= 20)"
        )

    starts = cold_start(rounds)
    print("\n3. cold start, milliseconds per whole process")
    for name, values in starts.items():
        print(f"   {name:<30} {summary(values)}")
    ours_import = statistics.median(starts["import twilio_component"])
    sdk_import = statistics.median(starts["from twilio.rest import Client"])
    print(
        f"   import twilio_component / SDK import = {ours_import / sdk_import:.2f} (target <= 1.0)"
    )
    print(
        f"   send --sandbox process = {statistics.median(starts['send --sandbox']):.0f} ms (target <= 400)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
