"""Issue 14's acceptance, end to end: three workers, a thousand recipients at 100 MPS on one
sender, a separate sandbox process, a worker and then Redis killed with SIGKILL."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from celery_workers import busiest_second, campaign_files, cli, per_recipient, wait_for, workers


@pytest.fixture
def sandbox_process() -> Iterator[dict[str, str]]:
    """``twilio-component sandbox`` in a process of its own; its first JSON line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "twilio_component", "sandbox"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(timeout=10)


def sandbox_messages(details: dict[str, str]) -> list[dict[str, Any]]:
    answer = requests.get(
        details["base_url"] + "/_sandbox/messages",
        auth=(details["account_sid"], details["auth_token"]),
        timeout=30,
    )
    answer.raise_for_status()
    return list(answer.json()["messages"])


def test_a_thousand_recipients_through_a_worker_kill_and_a_redis_kill_get_one_message_each(
    tmp_path: Path, sandbox_process: dict[str, str], redis_server: Any, postgres_url: str
) -> None:
    recipients = [f"+1555{i:07d}" for i in range(1000)]
    rows, step = campaign_files(tmp_path, recipients, "+15005550006")
    env = {
        "TWILIO_ACCOUNT_SID": sandbox_process["account_sid"],
        "TWILIO_AUTH_TOKEN": sandbox_process["auth_token"],
        "TWILIO_API_BASE_URL": sandbox_process["base_url"],
    }
    broker = redis_server.url
    with workers(tmp_path, broker, postgres_url, env, count=3) as pool:
        queued = cli(
            "campaign", "send", str(rows), "--step", str(step), "--campaign", "thousand",
            "--broker", broker, "--journal", postgres_url, "--mps", "100",
            env=env,
        )  # fmt: skip
        assert queued.returncode == 0, queued.stderr
        wait_for(lambda: len(sandbox_messages(sandbox_process)) >= 250, 60, "250 sent", every=0.5)
        pool.kill(pool.processes[0])
        pool.start()
        wait_for(lambda: len(sandbox_messages(sandbox_process)) >= 500, 60, "500 sent", every=0.5)
        lost = pool.logs().count("Connection to broker lost")
        redis_server.kill()
        wait_for(
            lambda: pool.logs().count("Connection to broker lost") > lost,
            60,
            "a worker to lose Redis",
        )
        redis_server.start()
        resumed = cli(
            "campaign", "resume", "thousand", "--broker", broker, "--journal", postgres_url,
            "--wait", env=env,
        )  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr + pool.logs()
    status = cli("campaign", "status", "thousand", "--journal", postgres_url, env=env)
    assert json.loads(status.stdout)["sent"] == 1000
    messages = sandbox_messages(sandbox_process)
    assert per_recipient(messages) == dict.fromkeys(recipients, 1)
    assert busiest_second(messages) <= 110
