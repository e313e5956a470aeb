"""Measure how a campaign scales: memory, CPU per row and journal size at 10k and 100k rows.

Everything runs as a user would run it: ``twilio-component campaign send|report`` processes
against a sandbox in a process of its own (loopback only), and, with ``--celery``, a Redis
server, a PostgreSQL server and a worker started here on free ports. Printed per size: rows/s,
CPU milliseconds per row of the sending process, its peak RSS, journal bytes per row, the
report's peak RSS and a rerun's time; for Celery the submit's time and the broker's peak memory;
then the growth from the smaller size to the larger. ``--check`` also checks (and plans) a
CSV of a million rows without sending.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SANDBOX = "from twilio_component.sandbox import Sandbox; import json, threading\n" + (
    "s = Sandbox().start()\n"
    "print(json.dumps({'base_url': s.base_url, 'account_sid': s.account_sid,"
    " 'auth_token': s.auth_token}), flush=True)\n"
    "threading.Event().wait()\n"
)
STEP = {
    "type": "twilio/v1/sendSMS",
    "parameters": {"To": "${row.phone}", "From": "+15005550006", "Body": "Hi ${row.name}"},
}


@dataclass
class Run:
    """One command's exit, wall time, CPU seconds, peak RSS (bytes) and standard output."""

    code: int
    wall: float
    cpu: float
    rss: int
    out: str
    err: str


def measured(argv: Sequence[str], *, cwd: Path, env: dict[str, str]) -> Run:
    """Run a command to its end; its own CPU time and peak RSS, from wait4."""
    started = time.perf_counter()
    with (
        tempfile.TemporaryFile(mode="w+") as out,
        tempfile.TemporaryFile(mode="w+") as err,
    ):
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return Run(
            process.returncode,
            wall,
            usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss * 1024,
            out.read(),
            err.read(),
        )


@contextmanager
def sandbox() -> Iterator[dict[str, Any]]:
    """A sandbox in a process of its own."""
    process = subprocess.Popen([sys.executable, "-c", SANDBOX], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    try:
        yield json.loads(process.stdout.readline())
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def write_rows(path: Path, rows: int) -> None:
    """A CSV of ``rows`` distinct recipients (phone, name), written as it goes."""
    with path.open("w", encoding="utf-8") as file:
        file.write("phone,name\n")
        for i in range(rows):
            file.write(f"+1415{2000000 + i:07d},Person {i}\n")


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "twilio_component", *args]


def environment(details: dict[str, Any]) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")},
        "TWILIO_ACCOUNT_SID": details["account_sid"],
        "TWILIO_AUTH_TOKEN": details["auth_token"],
        "TWILIO_API_BASE_URL": details["base_url"],
    }


def journal_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("journal.db*"))


def one_machine(rows: int, details: dict[str, Any]) -> dict[str, float]:
    """Send, report and rerun a campaign of ``rows`` from this machine; its figures."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        write_rows(folder / "r.csv", rows)
        (folder / "step.json").write_text(json.dumps(STEP), encoding="utf-8")
        env = environment(details)
        send = command(
            "campaign",
            "send",
            "r.csv",
            "--step",
            "step.json",
            "--campaign",
            f"scale-{rows}",
            "--journal",
            "journal.db",
            "--mps",
            "10000",
        )
        sent = measured(send, cwd=folder, env=env)
        summary = ok(sent, "campaign send")
        if summary["sent"] != rows:
            raise SystemExit(f"{summary['sent']} of {rows} sent: {sent.err[-2000:]}")
        size = journal_bytes(folder)
        report = measured(
            command("campaign", "report", f"scale-{rows}", "--journal", "journal.db"),
            cwd=folder,
            env=env,
        )
        if report.code != 0 or report.out.count("\n") != rows + 1:
            raise SystemExit(f"report: exit {report.code}: {report.err[-2000:]}")
        rerun = measured(send, cwd=folder, env=env)
        again = ok(rerun, "campaign send (rerun)")
        if again["already_done"] != rows:
            raise SystemExit(f"rerun: {again}")
        return {
            "rows/s": rows / sent.wall,
            "cpu ms/row": 1000 * sent.cpu / rows,
            "peak RSS MB": sent.rss / 2**20,
            "journal B/row": size / rows,
            "report s": report.wall,
            "report RSS MB": report.rss / 2**20,
            "rerun s": rerun.wall,
            "rerun RSS MB": rerun.rss / 2**20,
        }


def ok(run: Run, what: str) -> dict[str, Any]:
    if run.code != 0:
        raise SystemExit(f"{what}: exit {run.code}: {run.err[-2000:]}")
    return dict(json.loads(run.out))


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user and system) of a process and every descendant alive now, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children: list[int] = []
            for task in Path(f"/proc/{current}/task").iterdir():
                text = (task / "children").read_text()
                children += [int(c) for c in text.split()]
        except OSError:
            continue  # it ended meanwhile
        total += (int(fields[11]) + int(fields[12])) / tick
        stack.extend(children)
    return total


def on_celery(rows: int, details: dict[str, Any], send: bool) -> dict[str, float]:
    """Submit a campaign of ``rows`` with --broker (and, when ``send``, let one worker send it
    all); its figures. Redis, PostgreSQL and the worker are private to this run."""
    import redis
    from celery_scaling import Workers, postgres_server, redis_server

    with tempfile.TemporaryDirectory() as name, ExitStack() as stack:
        folder = Path(name)
        broker = stack.enter_context(redis_server(folder))
        journal = stack.enter_context(postgres_server(None))
        write_rows(folder / "r.csv", rows)
        (folder / "step.json").write_text(json.dumps(STEP), encoding="utf-8")
        env = environment(details)
        client = redis.Redis.from_url(broker)
        before = int(client.info("memory")["used_memory"])
        empty = database_bytes(journal)
        submit = measured(
            command(
                *("campaign", "send", "r.csv", "--step", "step.json", "--campaign", "scale"),
                *("--broker", broker, "--journal", journal, "--mps", "10000"),
            ),
            cwd=folder,
            env=env,
        )
        ok(submit, "campaign send --broker")
        after = int(client.info("memory")["used_memory"])
        figures = {
            "submit s": submit.wall,
            "submit rows/s": rows / submit.wall,
            "submit RSS MB": submit.rss / 2**20,
            "Redis MB": (after - before) / 2**20,
            "largest value KB": largest_value(journal) / 1024,
        }
        if not send:
            return figures
        pool = Workers(folder, broker, journal, env)
        stack.callback(pool.stop_all)
        started = time.perf_counter()
        pool.start(1, 8)
        peak = after
        while sent(journal) < rows:
            peak = max(peak, int(client.info("memory")["used_memory"]))
            if time.perf_counter() - started > 3600:
                raise SystemExit("the worker did not finish within an hour:\n" + pool.text())
            time.sleep(0.5)
        seconds = time.perf_counter() - started
        cpu = sum(process_tree_cpu(p.pid) for p in pool.processes)
        figures.update(
            {
                "worker rows/s": rows / seconds,
                "worker cpu ms/row": 1000 * cpu / rows,
                "Redis peak MB": (peak - before) / 2**20,
                "journal B/row": (database_bytes(journal) - empty) / rows,
            }
        )
        return figures


def sent(journal: str) -> int:
    from twilio_component.campaign import status
    from twilio_component.journal import open_journal

    opened = open_journal(journal)
    try:
        return int((status(opened, "scale") or {}).get("sent", 0))
    finally:
        opened.close()


def largest_value(journal: str) -> int:
    """The longest value the journal holds in one field (a note, a plan row, a record)."""
    import psycopg

    with psycopg.connect(journal) as db:
        found = db.execute(
            "SELECT MAX(LENGTH(value)) FROM notes UNION ALL "
            "SELECT MAX(LENGTH(parameters) + COALESCE(LENGTH(pace), 0)) FROM plan_rows UNION ALL "
            "SELECT MAX(COALESCE(LENGTH(output), 0) + LENGTH(parameters)) FROM steps"
        ).fetchall()
    return max(int(value or 0) for (value,) in found)


def database_bytes(journal: str) -> int:
    import psycopg

    with psycopg.connect(journal) as db:
        row = db.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def show(title: str, sizes: Sequence[int], figures: dict[int, dict[str, float]]) -> None:
    print(title)
    names = list(figures[sizes[0]])
    several = len(sizes) > 1
    print(f"  {'':18}" + "".join(f"{n:>12,}" for n in sizes) + ("      growth" if several else ""))
    for metric in names:
        values = [figures[n][metric] for n in sizes]
        growth = values[-1] / values[0] if values[0] else float("nan")
        line = f"  {metric:18}" + "".join(f"{v:12.2f}" for v in values)
        print(line + (f"  {growth:8.2f}x" if several else ""))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="10000,100000", help="rows per campaign, comma-separated"
    )
    parser.add_argument(
        "--celery", action="store_true", help="also submit and send the sizes through Celery"
    )
    parser.add_argument(
        "--plan",
        type=int,
        default=0,
        metavar="ROWS",
        help="also check, plan and submit a campaign of ROWS (e.g. 1000000) on Celery, unsent",
    )
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.sizes.split(",")]
    figures: dict[int, dict[str, float]] = {}
    for rows in sizes:
        with sandbox() as details:  # a fresh sandbox per size: its memory is its own
            figures[rows] = one_machine(rows, details)
    show("one machine (campaign send, report, rerun; sandbox in its own process)", sizes, figures)
    if args.celery:
        figures = {}
        for rows in sizes:
            with sandbox() as details:
                figures[rows] = on_celery(rows, details, send=True)
        show("Celery (submit with --broker, then one worker of 8 slots sends it)", sizes, figures)
    if args.plan:
        with sandbox() as details:
            planned = on_celery(args.plan, details, send=False)
        title = f"Celery, checked, planned and submitted, nothing sent ({args.plan:,} rows)"
        show(title, [args.plan], {args.plan: planned})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
