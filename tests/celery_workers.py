"""Celery workers for tests: real ``twilio-component worker`` processes, killable with SIGKILL."""

from __future__ import annotations

import base64
import csv
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class Workers:
    """Worker processes sharing one broker and one journal, each logging to a file."""

    def __init__(self, folder: Path, broker: str, journal: str, env: Mapping[str, str]) -> None:
        self.folder = folder
        self.broker = broker
        self.journal = journal
        self.env = {**os.environ, **env}
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(
        self, concurrency: int = 8, pool: str = "threads", *more: str
    ) -> subprocess.Popen[bytes]:
        """One more worker (``more``: further options of ``twilio-component worker``)."""
        log = (self.folder / f"worker-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "twilio_component",
                "worker",
                "--broker",
                self.broker,
                "--journal",
                self.journal,
                "--concurrency",
                str(concurrency),
                "--pool",
                pool,
                *more,
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL one worker, as a crash or an OOM kill would."""
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.folder.glob("*.log")))


@contextmanager
def workers(
    folder: Path, broker: str, journal: str, env: Mapping[str, str], count: int = 0
) -> Iterator[Workers]:
    pool = Workers(folder, broker, journal, env)
    for _ in range(count):
        pool.start()
    try:
        yield pool
    finally:
        pool.stop_all()


def campaign_files(folder: Path, recipients: Iterable[str], sender: str) -> tuple[Path, Path]:
    """A recipients CSV and a step that sends each its own body."""
    rows = folder / "recipients.csv"
    with rows.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["phone", "name"])
        for i, number in enumerate(recipients):
            writer.writerow([number, f"person {i}"])
    step = folder / "step.json"
    step.write_text(
        json.dumps(
            {
                "type": "twilio/v1/sendSMS",
                "parameters": {"To": "${row.phone}", "From": sender, "Body": "Hi ${row.name}"},
            }
        )
    )
    return rows, step


def cli(
    *argv: str, env: Mapping[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the command line in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "twilio_component", *argv],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_for(condition: Any, timeout: float, what: str, every: float = 0.2) -> None:
    """Wait until ``condition()`` is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def per_recipient(messages: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """How many outbound messages each recipient got."""
    return Counter(m["to"] for m in messages if m.get("direction") != "inbound")


def busiest_second(messages: Iterable[Mapping[str, Any]]) -> int:
    """The most messages created within one wall-clock second (by date_created)."""
    counts = Counter(m["date_created"] for m in messages if m.get("direction") != "inbound")
    return max(counts.values(), default=0)


#: The queue the workers consume, and the task they run.
QUEUE = "twilio-component"
TASK = "twilio_component.run_step"


def protocol_2(args: Any, kwargs: Any) -> str:
    """A task message's body in Celery's protocol 2: ``[args, kwargs, embed]``, as JSON text."""
    embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    return json.dumps([args, kwargs, embed])


def base64_of(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def task_message(
    body: str, *, task: Any = TASK, headers: Mapping[str, Any] | None = None, drop: str = ""
) -> tuple[str, str]:
    """A task message as Kombu's Redis transport LPUSHes it (Celery's protocol 2): its id, and
    the JSON envelope. ``body`` is the envelope's body as it goes on the wire (base64 text:
    see ``base64_of``); ``headers`` replace Celery's, ``drop`` names one to leave out."""
    ident = str(uuid.uuid4())
    celery_headers = {
        "lang": "py", "task": task, "id": ident, "shadow": None, "eta": None, "expires": None,
        "group": None, "group_index": None, "retries": 0, "timelimit": [None, None],
        "root_id": ident, "parent_id": None, "argsrepr": "()", "kwargsrepr": "{}",
        "origin": "poison@tests", "ignore_result": None, "replaced_task_nesting": 0,
        "stamped_headers": None, "stamps": {},
    }  # fmt: skip
    celery_headers.update(headers or {})
    celery_headers.pop(drop, None)
    envelope = {
        "body": body,
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": celery_headers,
        "properties": {
            "correlation_id": ident,
            "reply_to": str(uuid.uuid4()),
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": QUEUE},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    return ident, json.dumps(envelope)


def celery_child(supervisor: subprocess.Popen[bytes]) -> int | None:
    """The pid of the Celery worker a ``twilio-component worker`` runs (None: none now)."""
    found = subprocess.run(
        ["pgrep", "-P", str(supervisor.pid)], capture_output=True, text=True, check=False
    )
    pids = [int(p) for p in found.stdout.split()]
    return pids[0] if len(pids) == 1 else None
