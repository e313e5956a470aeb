"""Poison on the queue, against real servers: a task message a worker cannot run (a body that
does not decode or has the wrong shape, headers it cannot use, arguments the task does not take)
is dropped with one log line, never its body; the worker's Celery child stays up, and what comes
after it is sent, once."""

from __future__ import annotations

import base64
import binascii
import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from celery_workers import (
    QUEUE,
    TASK,
    Workers,
    base64_of,
    campaign_files,
    celery_child,
    cli,
    per_recipient,
    protocol_2,
    task_message,
    wait_for,
    workers,
)

from twilio_component.distributed import make_app
from twilio_component.journal import open_journal
from twilio_component.sandbox import Sandbox

#: In the body of every poison message: never in a log.
MARK = "poison-7f3a"
SENDER = "+15005550006"
STEP: dict[str, Any] = {
    "type": "twilio/v1/sendSMS",
    "parameters": {"To": "+15558675310", "From": SENDER},
}
#: The key of the poison messages that have one (nothing is ever recorded for it).
POISON_KEY = "poison/1"


def not_base64(text: str) -> str:
    """``text``, made base64 that does not decode: one data character past a multiple of 4."""
    body = text + "*"
    while sum(c.isalnum() for c in body) % 4 != 1:
        body += "A"
    try:
        base64.b64decode(body)
    except binascii.Error:
        return body
    raise AssertionError(f"{body!r} decodes")


Message = Callable[[], tuple[str, str]]

#: The five shapes of the issue, each in a valid envelope naming the task.
POISON: dict[str, Message] = {
    "json_object_body": lambda: task_message(base64_of(json.dumps({"a": 1, "note": MARK}))),
    "body_not_json": lambda: task_message(base64_of(f"not JSON {MARK}")),
    "empty_body": lambda: task_message(""),
    "json_array_of_the_wrong_shape": lambda: task_message(base64_of(json.dumps([MARK, 2]))),
    "body_not_base64": lambda: task_message(not_base64(MARK)),
}


def sendable(**headers: Any) -> Message:
    """A message whose body the task could run (``headers``: task_message's options)."""
    body = base64_of(protocol_2([], {"step": {**STEP, "note": MARK}, "key": POISON_KEY}))
    return lambda: task_message(body, **headers)


#: Headers a worker cannot use, and what the log line says of the message.
HEADERS: dict[str, tuple[Message, str]] = {
    "a_task_no_worker_has": (sendable(task="elsewhere.send"), "task 'elsewhere.send'"),
    "no_id_header": (sendable(drop="id"), "(no id, task 'twilio_component.run_step')"),
    "a_task_header_that_is_not_a_string": (sendable(task=[TASK]), "task header is not a string"),
    "a_timelimit_header_celery_cannot_read": (sendable(headers={"timelimit": [1]}), "timelimit"),
}

#: Arguments the task does not take: (args, kwargs).
ARGUMENTS: dict[str, tuple[list[Any], dict[str, Any]]] = {
    "no_step": ([], {"key": POISON_KEY}),
    "no_key": ([], {"step": STEP}),
    "a_step_that_is_not_an_object": ([], {"step": MARK, "key": POISON_KEY}),
    "a_step_without_a_type": ([], {"step": {"parameters": {"Body": MARK}}, "key": POISON_KEY}),
    "a_key_that_is_not_a_string": ([], {"step": STEP, "key": 12345}),
    "a_key_that_is_an_object": ([], {"step": STEP, "key": {"k": MARK}}),
    "an_argument_the_task_does_not_take": ([], {"step": STEP, "key": POISON_KEY, "note": MARK}),
    "a_pace_without_a_rate": ([], {"step": STEP, "key": POISON_KEY, "pace": {"sender": SENDER}}),
    "three_positional_arguments": ([STEP, POISON_KEY, MARK], {}),
}


def recorded(journal_url: str, key: str) -> str | None:
    """The state the journal holds for ``key`` (None: nothing)."""
    journal = open_journal(journal_url)
    try:
        record = journal.get(key)
    finally:
        journal.close()
    return None if record is None else record.state


@dataclass
class Worker:
    """One ``twilio-component worker`` and the Celery child it runs, fed by hand."""

    pool: Workers
    supervisor: subprocess.Popen[bytes]
    child: int
    broker: str
    journal: str

    def push(self, envelope: str) -> None:
        """LPUSH a raw message onto the queue, as Kombu's Redis transport does."""
        redis.Redis.from_url(self.broker).lpush(QUEUE, envelope)

    def dropped_lines(self) -> list[str]:
        return self.lines_naming("discarded a task message")

    def dropped(self, count: int = 1) -> list[str]:
        """Wait until ``count`` messages are dropped, none left on the queue nor held by the
        worker; the log lines saying so."""
        client = redis.Redis.from_url(self.broker)
        wait_for(lambda: len(self.dropped_lines()) >= count, 60, f"{count} message(s) dropped")
        wait_for(
            lambda: client.llen(QUEUE) == 0 and client.hlen("unacked") == 0,
            30,
            "an empty queue and nothing unacknowledged",
        )
        return self.dropped_lines()

    def send_one(self, key: str, *, body: str = "after", positionally: bool = False) -> None:
        """Enqueue one keyed step behind whatever is on the queue, its step and key given as
        keyword arguments (or positionally); wait until it is sent."""
        app = make_app(self.broker)
        step = {**STEP, "parameters": {**STEP["parameters"], "Body": body}}
        if positionally:
            app.send_task(TASK, args=[step, key])
        else:
            app.send_task(TASK, kwargs={"step": step, "key": key, "pace": None})
        app.close()
        wait_for(lambda: recorded(self.journal, key) == "sent", 60, f"{key} sent")

    def lines_naming(self, text: str) -> list[str]:
        return [line for line in self.pool.logs().splitlines() if text in line]

    def calm(self) -> bool:
        """Whether the Celery child it started first is still the one running, and nothing
        logged a traceback."""
        logs = self.pool.logs()
        return (
            celery_child(self.supervisor) == self.child
            and "stopped by itself" not in logs
            and "Traceback" not in logs
        )


@pytest.fixture
def worker(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    redis_server: Any,
    postgres_url: str,
    sandbox_env: dict[str, str],
) -> Iterator[Worker]:
    """A worker on the sandbox (``threads``, or the pool given by indirect parametrization)."""
    with workers(tmp_path, redis_server.url, postgres_url, sandbox_env) as pool:
        kind = getattr(request, "param", "threads")
        supervisor = pool.start(3 if kind == "prefork" else 8, kind)
        wait_for(lambda: celery_child(supervisor) is not None, 30, "the worker's Celery child")
        child = celery_child(supervisor)
        assert child is not None
        yield Worker(pool, supervisor, child, redis_server.url, postgres_url)


@pytest.mark.parametrize("shape", list(POISON))
def test_a_poison_message_is_dropped_with_one_log_line_and_the_worker_goes_on(
    shape: str, worker: Worker, twilio_sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    ident, envelope = POISON[shape]()
    worker.push(envelope)
    [line] = worker.dropped()
    assert f"(id '{ident}', task '{TASK}')" in line
    worker.send_one("after/1")
    assert worker.dropped_lines() == [line]
    assert worker.lines_naming(ident) == [line]
    logs = worker.pool.logs()
    assert MARK not in logs
    assert sandbox_env["TWILIO_AUTH_TOKEN"] not in logs
    assert [m["body"] for m in twilio_sandbox.messages] == ["after"]
    assert worker.calm()


@pytest.mark.parametrize("case", list(HEADERS))
def test_a_message_with_headers_the_worker_cannot_use_is_dropped_with_one_log_line(
    case: str, worker: Worker, twilio_sandbox: Sandbox, postgres_url: str
) -> None:
    message, said = HEADERS[case]
    ident, envelope = message()
    worker.push(envelope)
    [line] = worker.dropped()
    assert said in line
    worker.send_one("after/1")
    assert worker.dropped_lines() == [line]
    assert set(worker.lines_naming(ident)) <= {line}  # the id, when it has one: nowhere else
    assert MARK not in worker.pool.logs()
    assert [m["body"] for m in twilio_sandbox.messages] == ["after"]
    assert recorded(postgres_url, POISON_KEY) is None
    assert worker.calm()


@pytest.mark.parametrize("case", list(ARGUMENTS))
def test_a_task_with_arguments_it_does_not_take_is_dropped_with_one_log_line(
    case: str, worker: Worker, twilio_sandbox: Sandbox, postgres_url: str
) -> None:
    ident, envelope = task_message(base64_of(protocol_2(*ARGUMENTS[case])))
    worker.push(envelope)
    [line] = worker.dropped()  # not run, so never retried
    assert f"(id '{ident}', task '{TASK}')" in line
    worker.send_one("after/1")
    assert worker.dropped_lines() == [line]
    assert worker.lines_naming(ident) == [line]
    assert MARK not in worker.pool.logs()
    assert [m["body"] for m in twilio_sandbox.messages] == ["after"]
    assert recorded(postgres_url, POISON_KEY) is None
    assert worker.calm()


def test_a_step_and_a_key_given_positionally_are_sent(
    worker: Worker, twilio_sandbox: Sandbox
) -> None:
    worker.send_one("positional/1", body="positional", positionally=True)
    assert [m["body"] for m in twilio_sandbox.messages] == ["positional"]
    assert worker.dropped_lines() == []


@pytest.mark.parametrize("worker", ["threads", "prefork"], indirect=True)
def test_a_campaign_enqueued_after_the_five_poison_shapes_sends_one_message_per_row(
    worker: Worker, tmp_path: Path, twilio_sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    for message in POISON.values():
        worker.push(message()[1])
    assert len(worker.dropped(len(POISON))) == len(POISON)
    recipients = [f"+1555{i:07d}" for i in range(20)]
    rows, step = campaign_files(tmp_path, recipients, SENDER)
    done = cli(
        "campaign", "send", str(rows), "--step", str(step), "--campaign", "after-poison",
        "--broker", worker.broker, "--journal", worker.journal, "--mps", "100", "--wait",
        env=sandbox_env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + worker.pool.logs()
    assert per_recipient(twilio_sandbox.messages) == dict.fromkeys(recipients, 1)
    assert len(twilio_sandbox.messages) == len(recipients)
    assert len(worker.dropped_lines()) == len(POISON)
    assert worker.calm()
