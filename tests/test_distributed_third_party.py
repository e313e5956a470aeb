"""A third-party component's keyed step on a Celery worker: the worker runs any installed
component's step, with that component's connection from ``worker --connection``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery_workers import wait_for, workers
from conftest import ACME_TOKEN

from twilio_component.distributed import make_app
from twilio_component.distributed.tasks import TASK_NAME
from twilio_component.journal import Journal, open_journal

PING = {"type": "acme/v1/ping", "parameters": {"channel": "#ops", "text": "deployed"}}


@pytest.fixture
def journal(postgres_url: str) -> Iterator[Journal]:
    opened = open_journal(postgres_url)
    yield opened
    opened.close()


def acme_env(installed: Path) -> dict[str, str]:
    """The acme package on the path, and no Twilio connection in the environment at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
    return {**env, "PYTHONPATH": str(installed)}


def state_of(journal: Journal, key: str) -> str | None:
    record = journal.get(key)
    return None if record is None else record.state


def test_a_worker_runs_a_third_party_components_keyed_step_with_its_connection(
    tmp_path: Path, installed: Path, redis_server: Any, postgres_url: str, journal: Journal
) -> None:
    connection = tmp_path / "acme.json"
    connection.write_text(json.dumps({"token": ACME_TOKEN}), encoding="utf-8")
    app = make_app(redis_server.url)
    with workers(tmp_path, redis_server.url, postgres_url, acme_env(installed)) as pool:
        pool.start(8, "threads", "--connection", f"acme={connection}")
        app.send_task(TASK_NAME, kwargs={"step": PING, "key": "acme-1"})
        wait_for(lambda: state_of(journal, "acme-1") == "sent", 60, "acme-1 sent")
        record = journal.get("acme-1")
        assert record is not None
        assert record.output == {"posted": "#ops: deployed"}
        app.send_task(TASK_NAME, kwargs={"step": PING, "key": "acme-1"})  # delivered again
        app.send_task(TASK_NAME, kwargs={"step": PING, "key": "acme-2"})
        wait_for(lambda: state_of(journal, "acme-2") == "sent", 60, "acme-2 sent")
        logs = pool.logs()
    assert ACME_TOKEN not in logs


def test_a_worker_without_the_components_connection_leaves_its_step_unsent(
    tmp_path: Path, installed: Path, redis_server: Any, postgres_url: str, journal: Journal
) -> None:
    env = {
        **acme_env(installed),
        "TWILIO_ACCOUNT_SID": "AC" + "a" * 32,
        "TWILIO_AUTH_TOKEN": "not-used-here",
    }
    app = make_app(redis_server.url)
    with workers(tmp_path, redis_server.url, postgres_url, env, count=1) as pool:
        app.send_task(TASK_NAME, kwargs={"step": PING, "key": "acme-3"})
        wait_for(lambda: "--connection acme=FILE.json" in pool.logs(), 60, "the worker to say why")
    assert state_of(journal, "acme-3") is None  # never claimed: nothing was sent
