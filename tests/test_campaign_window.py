"""A campaign on Celery keeps a window of rows in the broker, not the whole campaign: workers
hand out the next row as each one ends, a lost window comes back with ``campaign resume``, and
the plan sits in the journal as rows (no value there as large as the campaign)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import psycopg
import redis
from celery_workers import campaign_files, cli, per_recipient, wait_for, workers
from test_distributed import QUEUE_LISTS, UNACKED, env_of, numbers, send_command, sent_count

from twilio_component.sandbox import Sandbox

SENDER = "+15005550006"


def in_broker(url: str) -> int:
    """Messages the broker holds: waiting in the queue, or delivered and not acknowledged."""
    client = redis.Redis.from_url(url)
    with client.pipeline(transaction=True) as reads:
        for name in QUEUE_LISTS:
            reads.llen(name)
        reads.hlen(UNACKED)
        return sum(reads.execute())


def test_the_broker_holds_about_the_window_while_workers_send_a_larger_campaign(
    tmp_path: Path, twilio_sandbox: Sandbox, redis_server: Any, postgres_url: str
) -> None:
    recipients = numbers(80)
    rows, step = campaign_files(tmp_path, recipients, SENDER)
    env = env_of(twilio_sandbox)
    queued = cli(
        *send_command(rows, step, "win", redis_server.url, postgres_url, "--mps", "40"),
        *("--window", "5"),
        env=env,
    )
    assert queued.returncode == 0, queued.stderr
    assert json.loads(queued.stdout)["enqueued"] == 5
    assert in_broker(redis_server.url) == 5
    most = [0]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            most[0] = max(most[0], in_broker(redis_server.url))
            done.wait(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with workers(tmp_path, redis_server.url, postgres_url, env, count=2):
            wait_for(lambda: sent_count(postgres_url, "win") == 80, 120, "every row sent")
    finally:
        done.set()
        watcher.join()
    assert per_recipient(twilio_sandbox.messages) == dict.fromkeys(recipients, 1)
    # A task waiting for its slot is enqueued again before its delivery is acknowledged, so
    # for an instant one row can be in the broker twice; never more than that.
    assert 0 < most[0] <= 2 * 5


def test_a_window_the_broker_lost_comes_back_with_resume_and_each_row_is_sent_once(
    tmp_path: Path, twilio_sandbox: Sandbox, redis_server: Any, postgres_url: str
) -> None:
    recipients = numbers(30, prefix="+1556")
    rows, step = campaign_files(tmp_path, recipients, SENDER)
    env = env_of(twilio_sandbox)
    command = send_command(rows, step, "lost", redis_server.url, postgres_url, "--mps", "100")
    assert cli(*command, "--window", "4", env=env).returncode == 0
    redis.Redis.from_url(redis_server.url).flushall()  # the broker lost every message
    with workers(tmp_path, redis_server.url, postgres_url, env, count=1) as pool:
        resumed = cli(
            *("campaign", "resume", "lost", "--broker", redis_server.url),
            *("--journal", postgres_url, "--wait"),
            env=env,
        )
        assert resumed.returncode == 0, resumed.stderr + pool.logs()
    assert json.loads(resumed.stdout)["sent"] == 30
    assert per_recipient(twilio_sandbox.messages) == dict.fromkeys(recipients, 1)


def test_submitting_a_large_campaign_keeps_the_plan_as_rows_and_a_window_in_the_broker(
    tmp_path: Path, twilio_sandbox: Sandbox, redis_server: Any, postgres_url: str
) -> None:
    recipients = [f"+1415{2000000 + i:07d}" for i in range(20_000)]
    rows, step = campaign_files(tmp_path, recipients, SENDER)
    queued = cli(
        *send_command(rows, step, "big", redis_server.url, postgres_url),
        env=env_of(twilio_sandbox),
    )
    assert queued.returncode == 0, queued.stderr
    summary = json.loads(queued.stdout)
    assert (summary["total"], summary["enqueued"], summary["pending"]) == (20_000, 1000, 20_000)
    assert in_broker(redis_server.url) == 1000
    with psycopg.connect(postgres_url) as db:
        planned = db.execute("SELECT COUNT(*) FROM plan_rows WHERE campaign = 'big'").fetchone()
        largest = db.execute(
            "SELECT MAX(LENGTH(value)) FROM notes UNION ALL "
            "SELECT MAX(LENGTH(parameters) + COALESCE(LENGTH(pace), 0)) FROM plan_rows UNION ALL "
            "SELECT MAX(COALESCE(LENGTH(output), 0) + LENGTH(parameters)) FROM steps"
        ).fetchall()
    assert planned == (20_000,)
    assert max(value or 0 for (value,) in largest) < 4096
    assert twilio_sandbox.messages == []
