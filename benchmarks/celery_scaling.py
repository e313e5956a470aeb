"""Measure campaigns on Celery workers, side by side in one run, against a sandbox process of its
own answering each API request after 200 ms (--latency).

Everything is started here on free loopback ports and removed at the end: a private
redis-server (the broker, and the shared pace), a private PostgreSQL (the journal; or the server
named by TWILIO_COMPONENT_TEST_POSTGRES / --postgres), the sandbox
(``twilio-component sandbox --latency``) and ``twilio-component worker`` processes.

Printed: rows/s of a campaign at a high mps with 1 worker, then with 3 workers (each with the
same --concurrency), and their ratio (target >= 2.5); then, with 3 workers sharing one sender's
pace at a low mps, the busiest wall-clock second (by the sandbox's date_created) / mps (target
<= 1.1). Workers are started, waited for until Celery says it is ready, and warmed up with a
small campaign of their own before anything is timed. Exit 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import base64
import csv
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twilio_component import campaign
from twilio_component.journal import open_journal

SENDER = "+15005550006"
POSTGRES_VARIABLE = "TWILIO_COMPONENT_TEST_POSTGRES"
SPEEDUP_TARGET = 2.5
BUSIEST_TARGET = 1.1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop(process: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM (a warm shutdown), then SIGKILL if it is still there after ``grace`` s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A private redis-server on a free loopback port, keeping nothing on disk."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    process = subprocess.Popen(
        [
            *(binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""),
            *("--appendonly", "no", "--dir", str(folder), "--logfile", str(folder / "redis.log")),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"redis-server did not start: see {folder / 'redis.log'}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process)


@contextmanager
def postgres_server(given: str | None) -> Iterator[str]:
    """The server at ``given`` (a fresh database on it), else a private one from the tests."""
    tests = str(Path(__file__).resolve().parents[1] / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    helpers = importlib.import_module("postgres_server")  # tests/postgres_server.py
    if given:
        yield helpers.fresh_database(given)
        return
    with helpers.private_server() as server:
        yield server.url


@contextmanager
def sandbox(latency_ms: int, folder: Path) -> Iterator[dict[str, Any]]:
    """``twilio-component sandbox --latency`` in a process of its own; its first line's JSON."""
    process = subprocess.Popen(
        [sys.executable, "-m", "twilio_component", "sandbox", "--latency", str(latency_ms)],
        stdout=subprocess.PIPE,
        stderr=(folder / "sandbox.log").open("wb"),
        text=True,
    )
    assert process.stdout is not None
    try:
        details: dict[str, Any] = json.loads(process.stdout.readline())
        yield details
    finally:
        stop(process)
        process.stdout.close()


def environment(details: Mapping[str, Any]) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")},
        "TWILIO_ACCOUNT_SID": details["account_sid"],
        "TWILIO_AUTH_TOKEN": details["auth_token"],
        "TWILIO_API_BASE_URL": details["base_url"],
    }


class Workers:
    """``twilio-component worker`` processes sharing the broker and the journal."""

    def __init__(self, folder: Path, broker: str, journal: str, env: Mapping[str, str]) -> None:
        self.folder, self.broker, self.journal, self.env = folder, broker, journal, dict(env)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def start(self, count: int, concurrency: int) -> None:
        """``count`` more workers; return once Celery says each is ready."""
        started = []
        for _ in range(count):
            log = self.folder / f"worker-{len(self.processes)}.log"
            command = [sys.executable, "-m", "twilio_component", "worker", "--broker"]
            command += [self.broker, "--journal", self.journal, "--concurrency", str(concurrency)]
            process = subprocess.Popen(
                [*command, "--loglevel", "INFO"],
                env=self.env,
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
            )
            self.processes.append(process)
            self.logs.append(log)
            started.append(log)
        deadline = time.monotonic() + 60
        while not all(" ready." in log.read_text(errors="replace") for log in started):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                raise SystemExit("a worker did not start:\n" + self.text())
            time.sleep(0.1)

    def stop_all(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            stop(process)
        self.processes = []

    def text(self) -> str:
        return "\n".join(log.read_text(errors="replace")[-4000:] for log in self.logs)


@dataclass
class Run:
    """One campaign: seconds from launching ``campaign send --wait`` until the journal counts
    every row sent, and from the first row sent until the last (without the command's start-up
    and enqueueing)."""

    rows: int
    seconds: float
    sending: float
    recipients: list[str]

    def describe(self) -> str:
        return (
            f"{self.rows} rows in {self.seconds:.2f} s = {self.rows / self.seconds:.1f} rows/s "
            f"end to end; first to last row sent {self.sending:.2f} s = "
            f"{(self.rows - 1) / self.sending:.1f} rows/s"
        )


class Bench:
    """Campaigns sent with ``campaign send --broker … --wait``, each with its own recipients."""

    def __init__(self, folder: Path, broker: str, journal: str, details: dict[str, Any]) -> None:
        self.folder, self.broker, self.journal, self.details = folder, broker, journal, details
        self.env = environment(details)
        self.runs = 0

    def campaign(self, rows: int, mps: float, cap: int, workers: Workers) -> Run:
        """Run one campaign with the real command, watching the journal every 20 ms."""
        self.runs += 1
        name = f"bench-{self.runs}"
        where = self.folder / name
        where.mkdir()
        recipients = [f"+1555{self.runs:02d}{i:05d}" for i in range(rows)]
        with (where / "rows.csv").open("w", newline="") as table:
            writer = csv.writer(table)
            writer.writerow(["phone"])
            writer.writerows([number] for number in recipients)
        step = {
            "type": "twilio/v1/sendSMS",
            "parameters": {"To": "${row.phone}", "From": SENDER, "Body": "Hi"},
        }
        (where / "step.json").write_text(json.dumps(step), encoding="utf-8")
        command = [sys.executable, "-m", "twilio_component", "campaign", "send", "rows.csv"]
        command += ["--step", "step.json", "--campaign", name, "--broker", self.broker]
        command += ["--journal", self.journal, "--mps", f"{mps:g}", "--concurrency", str(cap)]
        journal = open_journal(self.journal)
        started = time.perf_counter()
        process = subprocess.Popen(
            [*command, "--wait"],
            cwd=where,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        first = finished = None
        while finished is None:
            counts = campaign.status(journal, name) or {}
            sent = int(counts.get("sent", 0)) if counts else 0
            if sent and first is None:
                first = time.perf_counter()
            if sent >= rows:
                finished = time.perf_counter()
            elif process.poll() is not None:
                break
            else:
                time.sleep(0.02)
        out, err = process.communicate(timeout=120)
        journal.close()
        if process.returncode != 0 or first is None or finished is None:
            raise SystemExit(f"campaign {name} failed ({process.returncode}): {out}{err}")
        summary = json.loads(out)
        if summary["sent"] != rows:
            raise SystemExit(f"campaign {name}: {summary['sent']} of {rows} sent\n{workers.text()}")
        return Run(rows, finished - started, finished - first, recipients)

    def created_per_second(self, recipients: list[str]) -> Counter[str]:
        """Messages to ``recipients`` per wall-clock second of date_created (the sandbox's)."""
        pair = f"{self.details['account_sid']}:{self.details['auth_token']}".encode()
        request = urllib.request.Request(
            f"{self.details['base_url']}/_sandbox/messages",
            headers={"Authorization": "Basic " + base64.b64encode(pair).decode()},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:  # loopback only
            messages = json.loads(answer.read())["messages"]
        wanted = set(recipients)
        return Counter(m["date_created"] for m in messages if m["to"] in wanted)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=600, help="rows of each timed campaign")
    parser.add_argument("--concurrency", type=int, default=8, help="slots per worker")
    parser.add_argument("--latency", type=int, default=200, help="sandbox latency, ms")
    parser.add_argument("--mps", type=float, default=2000.0, help="the high mps of (a), (b)")
    parser.add_argument("--cap", type=int, default=64, help="campaign send --concurrency")
    parser.add_argument("--paced-rows", type=int, default=300)
    parser.add_argument("--paced-mps", type=float, default=50.0)
    parser.add_argument("--warm-up-rows", type=int, default=30)
    parser.add_argument("--postgres", default=os.environ.get(POSTGRES_VARIABLE) or None)
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="celery-bench-")))
        broker = stack.enter_context(redis_server(folder))
        journal = stack.enter_context(postgres_server(args.postgres))
        details = stack.enter_context(sandbox(args.latency, folder))
        bench = Bench(folder, broker, journal, details)
        pool = Workers(folder, broker, journal, environment(details))
        stack.callback(pool.stop_all)

        def warm_up() -> None:
            bench.campaign(args.warm_up_rows, args.mps, args.cap, pool)

        pool.start(1, args.concurrency)
        warm_up()
        one = bench.campaign(args.rows, args.mps, args.cap, pool)
        pool.start(2, args.concurrency)
        warm_up()
        three = bench.campaign(args.rows, args.mps, args.cap, pool)
        paced = bench.campaign(args.paced_rows, args.paced_mps, args.cap, pool)
        busiest = max(bench.created_per_second(paced.recipients).values())
    speedup = one.seconds / three.seconds
    sending_speedup = one.sending / three.sending
    ratio = busiest / args.paced_mps
    print(
        f"sandbox --latency {args.latency}; workers --concurrency {args.concurrency} each; "
        f"campaign send --concurrency {args.cap}; each worker ready (Celery's log) and warmed "
        f"up with a {args.warm_up_rows}-row campaign before timing (start-up not measured)"
    )
    print(f"1 worker,  --mps {args.mps:g}: {one.describe()}")
    print(f"3 workers, --mps {args.mps:g}: {three.describe()}")
    print(
        f"3 workers / 1 worker = {speedup:.2f} end to end (target >= {SPEEDUP_TARGET}); "
        f"{sending_speedup:.2f} first to last row sent"
    )
    print(f"3 workers, one sender at --mps {args.paced_mps:g}: {paced.describe()}")
    print(
        f"busiest wall-clock second (date_created): {busiest} creates; busiest / mps = "
        f"{ratio:.3f} (target <= {BUSIEST_TARGET})"
    )
    missed = speedup < SPEEDUP_TARGET or ratio > BUSIEST_TARGET
    if missed:
        print("target missed", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
