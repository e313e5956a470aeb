"""Every shell and Python block of README.md, run as pasted, one test per README section.

Each shell block is pasted into a bash (tests/readme_blocks.py) one command at a time, from a
copy of the repository's files in a temporary folder (the README's commands run from the
repository's top folder), with:

- ``PATH`` starting with this virtual environment's bin: ``twilio-component`` is the installed
  one; ``HOME`` and ``TWILIO_COMPONENT_STATE`` in the temporary folder;
- ``TWILIO_API_BASE_URL``, ``TWILIO_ACCOUNT_SID`` and ``TWILIO_AUTH_TOKEN`` pointing at a
  ``twilio-component sandbox`` process the test started (no other ``TWILIO_*`` variable);
- every HTTP(S) proxy variable pointing at a loopback port that refuses connections, loopback
  excepted: nothing can leave this machine (pip finds its packages in the local sources its
  configuration names, and never reaches a remote index), and nothing can reach Twilio.

Python blocks run with the same environment, each in a fresh interpreter (the WSGI one in this
process, to call the application it builds). What each command or snippet prints, its exit
status, the files it writes and the messages the sandbox then holds are checked against what
the README says.
"""

from __future__ import annotations

import csv
import http.server
import json
import os
import re
import runpy
import shutil
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from postgres_server import _free_port as free_port
from readme_blocks import Block, Result, Terminal, blocks, commands, replaced, running, terminal

REPOSITORY = Path(__file__).resolve().parents[1]
README = REPOSITORY / "README.md"
#: This virtual environment's bin: `twilio-component` there is the installed one.
BIN = Path(sys.executable).parent
#: "From: one of your numbers" (Use from the shell): a number the test's sandbox has.
YOUR_NUMBER = "+15551234567"
SID = re.compile(r"(SM|MM)[0-9a-f]{32}")

#: Every README section with shell or Python blocks: their languages, in order. The test named
#: for the section (test_ and its title in snake case) runs them all; a block added anywhere
#: fails test_every_shell_and_python_block_is_run_by_the_test_of_its_section until a test
#: runs it.
SECTIONS: dict[str, tuple[str, ...]] = {
    "The two commands": ("sh",),
    "Use from the shell": ("sh", "sh"),
    "Use from Python": ("python",),
    "Writing a component": ("sh",),
    "Sending to many": ("sh",),
    "Running on Celery": ("sh", "python"),
    "Receiving messages": ("sh", "python"),
    "Testing your engine against the sandbox": ("python",),
    "Sandbox control API": ("sh", "python"),
    "Console": ("sh",),
    "Calls": ("sh",),
    "One-time codes": ("sh",),
    "Looking numbers up": ("sh",),
    "Sending responsibly": ("sh",),
    "Agents": ("json",),
}
#: Fenced blocks that are not run: output and listings, without a language tag.
NOT_RUN = ""


def readme_blocks() -> list[Block]:
    return blocks(README.read_text(encoding="utf-8"))


def name_of_test(section: str) -> str:
    return "test_" + re.sub(r"[^a-z0-9]+", "_", section.lower()).strip("_")


def section(title: str) -> list[Block]:
    """The runnable blocks of one section, checked against SECTIONS."""
    found = [b for b in readme_blocks() if b.section == title and b.language != NOT_RUN]
    assert tuple(b.language for b in found) == SECTIONS[title], (
        f"README.md's section {title!r} has other blocks than {name_of_test(title)} runs"
    )
    return found


def test_every_shell_and_python_block_is_run_by_the_test_of_its_section() -> None:
    found: dict[str, tuple[str, ...]] = {}
    for block in readme_blocks():
        assert block.language in {"sh", "python", "json", NOT_RUN}, (
            f"README.md:{block.line}: no test knows how to run a ```{block.language} block"
        )
        if block.language != NOT_RUN:
            found[block.section] = (*found.get(block.section, ()), block.language)
    assert found == SECTIONS
    for title in SECTIONS:
        assert callable(globals().get(name_of_test(title))), (
            f"no {name_of_test(title)} for {title!r}"
        )


# -- what the blocks run in and against ------------------------------------------------------


@dataclass
class SandboxAt:
    """A ``twilio-component sandbox`` process, from the JSON line it printed first."""

    base_url: str
    account_sid: str
    auth_token: str
    console_url: str

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """One call of the sandbox's control API (/_sandbox/...), its JSON answer."""
        answer = requests.request(
            method,
            f"{self.base_url}/_sandbox/{path}",
            auth=(self.account_sid, self.auth_token),
            json=body,
            timeout=30,
        )
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def messages(self) -> list[dict[str, Any]]:
        return list(self.control("GET", "messages")["messages"])

    def number(self, phone_number: str) -> dict[str, Any]:
        (found,) = [
            n
            for n in self.control("GET", "numbers")["numbers"]
            if n["phone_number"] == phone_number
        ]
        return dict(found)


@pytest.fixture
def sandbox() -> Iterator[SandboxAt]:
    """A sandbox process that also has YOUR_NUMBER."""
    process = subprocess.Popen(
        [str(BIN / "twilio-component"), "sandbox", "--number", YOUR_NUMBER],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())
        yield SandboxAt(**first)
    finally:
        process.terminate()
        process.wait()


@pytest.fixture(scope="session")
def refusing_proxy() -> Iterator[str]:
    """A loopback address that refuses every connection (bound, never listening)."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{bound.getsockname()[1]}"


def repository_files() -> list[str]:
    """The repository's files as git knows them (working copies), else every file but caches."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(REPOSITORY), "ls-files", "-z"],
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        skipped = {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", "build", "dist"}
        return [
            str(path.relative_to(REPOSITORY))
            for path in REPOSITORY.rglob("*")
            if path.is_file() and not skipped & set(path.relative_to(REPOSITORY).parts)
        ]
    return [name for name in listed.decode().split("\0") if name]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the repository's files: the README's commands run from its top folder."""
    top = tmp_path / "twilio-component"
    for name in repository_files():
        source = REPOSITORY / name
        if source.is_file():
            (top / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, top / name)
    (tmp_path / "home").mkdir()
    return top


def pip_configuration() -> dict[str, str]:
    """pip's configuration of the user running the tests (where its packages come from), which
    a HOME in the temporary folder would hide."""
    if "PIP_CONFIG_FILE" in os.environ:
        return {}
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    for candidate in (config / "pip" / "pip.conf", Path.home() / ".pip" / "pip.conf"):
        if candidate.is_file():
            return {"PIP_CONFIG_FILE": str(candidate)}
    return {}


PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
LOOPBACK = "127.0.0.1,localhost,::1"


@pytest.fixture
def env(folder: Path, sandbox: SandboxAt, refusing_proxy: str) -> dict[str, str]:
    """The environment the blocks run in (see the module's docstring)."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TWILIO_", "PYTEST_"))
        and name.upper() not in {*PROXIES, "NO_PROXY"}
    }
    proxies = dict.fromkeys(PROXIES, refusing_proxy)
    return {
        **inherited,
        **pip_configuration(),
        **proxies,
        **{name.lower(): value for name, value in proxies.items()},
        "NO_PROXY": LOOPBACK,
        "no_proxy": LOOPBACK,
        "PIP_RETRIES": "0",  # the refused index is not tried again
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
        "HOME": str(folder.parent / "home"),
        "TWILIO_COMPONENT_STATE": str(folder.parent / "state"),
        "TWILIO_API_BASE_URL": sandbox.base_url,
        "TWILIO_ACCOUNT_SID": sandbox.account_sid,
        "TWILIO_AUTH_TOKEN": sandbox.auth_token,
    }


def your_credentials(sandbox: SandboxAt) -> str:
    """What a reader types instead of `export TWILIO_ACCOUNT_SID=AC… TWILIO_AUTH_TOKEN=…`, their
    own Account SID and Auth Token: here, the test's sandbox's."""
    return f"export TWILIO_ACCOUNT_SID={sandbox.account_sid} TWILIO_AUTH_TOKEN={sandbox.auth_token}"


def pasted(block: Block, count: int, replacements: Mapping[str, str] | None = None) -> list[str]:
    """The ``count`` commands of a shell block (``replacements`` made first)."""
    found = commands(replaced(block.text, replacements or {}))
    assert len(found) == count, (
        f"README.md:{block.line}: the block has {len(found)} commands, the test runs {count}"
    )
    return found


def run_python(
    block: Block,
    folder: Path,
    env: Mapping[str, str],
    replacements: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """A Python block (``replacements`` made first) saved as a file of its own and run by this
    environment's interpreter, from the repository's top folder."""
    script = folder.parent / "snippets" / f"readme_line_{block.line}.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text(replaced(block.text, replacements or {}), encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=folder,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )


def last_json(text: str) -> Any:
    """The last JSON object printed in ``text``, which jobs running in the background (a
    worker's banner, Redis's log) may have printed around."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    for start in (m.start() for m in re.finditer(r"^\{", text, re.MULTILINE)):
        try:
            found.append(decoder.raw_decode(text, start)[0])
        except json.JSONDecodeError:
            continue
    assert found, f"no JSON object in:\n{text}"
    return found[-1]


def ok(result: Result) -> Result:
    assert result.code == 0, str(result)
    return result


def interrupt_sandbox(shell: Terminal, base_url: str) -> None:
    """Ctrl-C the sandbox running in ``shell``'s foreground: it stops serving."""
    stopped = shell.interrupt()
    assert stopped.code == 0, str(stopped)  # even a Ctrl-C right after its line is printed
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(base_url.rsplit(":", 1)[1])), timeout=5)


def is_json_object(line: str) -> bool:
    return line.startswith("{")


def wait_until(condition: Callable[[], bool], what: str, *alive: int) -> None:
    """Wait until ``condition()``, failing if a process it depends on (``alive``) has ended."""
    while not condition():
        for pid in alive:
            assert running(pid), f"process {pid} ended before {what}"
        time.sleep(0.05)


def outbound(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["direction"] != "inbound"]


# -- the sections, in the README's order ------------------------------------------------------


def test_the_two_commands(folder: Path, env: dict[str, str]) -> None:
    """1. Installs the package into a fresh .venv and sends to the embedded sandbox: the
    20-key output object on stdout, and on stderr that it went to the sandbox, no real phone.
    2. `bash .ci/run` is the whole test suite, this test included: running it from inside the
    suite would run this test again, so the test checks that it is that command and that the
    script it runs is valid bash, and runs nothing more."""
    (block,) = section("The two commands")
    install_and_send, whole_suite = pasted(block, 2)
    assert whole_suite.splitlines()[-1] == "bash .ci/run"
    with terminal(folder, env) as shell:
        sent = ok(shell.run(install_and_send))
    output = sent.json()
    assert len(output) == 20
    assert SID.fullmatch(output["sid"])
    assert (output["to"], output["body"]) == ("+15558675310", "Hello from twilio-component")
    assert "sandbox" in sent.err
    assert "nothing reached a real phone" in sent.err
    assert (folder / ".venv" / "bin" / "twilio-component").is_file()
    parsed = subprocess.run(["bash", "-n", str(folder / ".ci" / "run")], check=False)
    assert parsed.returncode == 0


def test_use_from_the_shell(folder: Path, env: dict[str, str], sandbox: SandboxAt) -> None:
    """The commands of the first block, one by one, then sendMessage with its options. The
    first send is from "one of your numbers": the test's sandbox has that number."""
    first, options = section("Use from the shell")
    port = free_port()
    # `sandbox --port 8099` serves on a free port instead (8099 may be taken on this machine).
    export, send, run, validate, describe, estimate, serve, usage = pasted(
        first, 8, {"--port 8099": f"--port {port}"}
    )
    (send_message,) = pasted(options, 1)
    with terminal(folder, env) as shell:
        ok(shell.run(export))
        # The placeholders AC… and … are the reader's credentials: the test overrides them.
        ok(shell.run(your_credentials(sandbox)))

        sent = ok(shell.run(send)).json()
        (message,) = sandbox.messages()
        assert (message["sid"], message["from"], message["to"]) == (
            sent["sid"],
            YOUR_NUMBER,
            "+15558675310",
        )
        assert message["body"] == "Your code is 123456"

        workflow = ok(shell.run(run)).json()
        assert set(workflow["tasks"]) == {"notify", "confirm"}
        assert all(SID.fullmatch(task["sid"]) for task in workflow["tasks"].values())

        validated = ok(shell.run(validate))
        assert (validated.out, validated.err) == ("", "examples/send_sms_step.json: valid\n")
        assert len(sandbox.messages()) == 1  # `run --sandbox` and `validate` sent nothing here

        page = ok(shell.run(describe)).out
        assert page.startswith('---\ntitle: "Twilio"\n')
        assert "sendSMS" in page

        counted = ok(shell.run(estimate)).json()
        assert (counted["encoding"], counted["segments"]) == ("UCS-2", 1)

        shell.type(serve)
        served = json.loads(shell.wait_for_line(is_json_object, "the sandbox's JSON line"))
        assert served["base_url"] == f"http://127.0.0.1:{port}"
        assert {"account_sid", "auth_token", "console_url"} <= set(served)
        account = requests.get(
            f"{served['base_url']}/2010-04-01/Accounts/{served['account_sid']}.json",
            auth=(served["account_sid"], served["auth_token"]),
            timeout=30,
        )
        assert account.status_code == 200
        interrupt_sandbox(shell, served["base_url"])

        helped = ok(shell.run(usage)).out
        every = ("send", "run", "validate", "listen", "campaign", "describe", "estimate")
        for command in (*every, "sandbox", "worker"):
            assert f"\n    {command} " in helped
        assert "exit codes:" in helped
        assert "environment:" in helped

        sent_message = ok(shell.run(send_message)).json()
    message = sandbox.messages()[-1]
    assert message["sid"] == sent_message["sid"]
    assert message["messaging_service_sid"] == "MG0123456789abcdef0123456789abcdef"
    assert message["num_media"] == "2"


def test_use_from_python(folder: Path, env: dict[str, str], sandbox: SandboxAt) -> None:
    (block,) = section("Use from Python")
    done = run_python(block, folder, env)
    assert done.returncode == 0, done.stderr
    sid, status = done.stdout.split()
    (message,) = sandbox.messages()
    assert (sid, status) == (message["sid"], "queued")
    assert message["body"] == "Hi"


def test_writing_a_component(folder: Path, env: dict[str, str]) -> None:
    """`pip install ./tests/acme` installs under a prefix in the temporary folder (PIP_PREFIX,
    found through PYTHONPATH), not into this virtual environment; its one dependency,
    twilio-component, is this environment's own."""
    (block,) = section("Writing a component")
    prefix = folder.parent / "prefix"
    installed = Path(sysconfig.get_path("purelib", "posix_prefix", {"base": str(prefix)}))
    env = {**env, "PIP_PREFIX": str(prefix), "PYTHONPATH": str(installed)}
    install, palette, one, connection, ping, workflow, run = pasted(block, 7)
    with terminal(folder, env) as shell:
        ok(shell.run(install))
        assert (installed / "acme_component" / "component.yaml").is_file()
        entries = ok(shell.run(palette)).json()
        assert sorted(entry["name"] for entry in entries) == ["acme", "twilio"]
        assert ok(shell.run(one)).json()["name"] == "acme"
        ok(shell.run(connection))
        assert json.loads((folder / "acme.json").read_text()) == {"token": "xoxo-123456"}
        pinged = ok(shell.run(ping))
        assert pinged.json() == {"posted": "#ops: deployed"}
        assert "xoxo-123456" not in pinged.out + pinged.err
        ok(shell.run(workflow))
        tasks = ok(shell.run(run)).json()["tasks"]
    assert SID.fullmatch(tasks["sms"]["sid"])
    assert tasks["chat"] == {"posted": f"#ops: sent {tasks['sms']['sid']}"}


def test_sending_to_many(folder: Path, env: dict[str, str]) -> None:
    (block,) = section("Sending to many")
    recipients, step, send, status, report = pasted(block, 5)
    with terminal(folder, env) as shell:
        ok(shell.run(recipients))
        ok(shell.run(step))
        summary = ok(shell.run(send)).json()
        counts = ok(shell.run(status)).json()
        reported = ok(shell.run(report))
    expected = {"campaign": "spring", "total": 2, "sent": 2, "failed": 0, "unknown": 0}
    assert {name: summary[name] for name in expected} == expected
    assert summary["pending"] == 0
    assert counts["sent"] == 2
    assert all(counts[state] == 0 for state in ("failed", "unknown", "pending", "held"))
    assert reported.out == ""
    assert (folder / "twilio-component-journal.db").is_file()
    with (folder / "report.csv").open(newline="") as lines:
        rows = list(csv.DictReader(lines))
    assert list(rows[0]) == ["to", "state", "sid", "error_code", "status"]
    assert sorted(row["to"] for row in rows) == ["+15558675310", "+15558675311"]
    assert all(row["state"] == "sent" and SID.fullmatch(row["sid"]) for row in rows)


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def test_running_on_celery(
    folder: Path, env: dict[str, str], sandbox: SandboxAt, postgres_url: str
) -> None:
    """The workers' campaign, then one keyed step from Python, against the test's own servers:
    the block's redis-server listens on a free port, and the journal is a fresh database on the
    tests' private PostgreSQL. Exactly the block's Redis port and URL and its PostgreSQL URL are
    replaced. The recipients CSV and step are those "Sending to many" wrote just before."""
    from twilio_component.journal import open_journal

    shell_block, python_block = section("Running on Celery")
    port = free_port()
    broker = {"redis://127.0.0.1:6379/0": f"redis://127.0.0.1:{port}/0"}
    servers = {
        "redis-server --port 6379": f"redis-server --port {port}",
        **broker,
        "postgresql://postgres@127.0.0.1/postgres": postgres_url,
    }
    # Exactly these strings of the blocks are replaced, with the test's servers.
    export, redis_server, worker, send, resume = pasted(shell_block, 5, servers)
    earlier = pasted(section("Sending to many")[0], 5)
    files = [c for c in earlier if c.endswith(("> recipients.csv", "> step.json"))]
    assert len(files) == 2
    with terminal(folder, env) as shell:
        for command in files:
            ok(shell.run(command))
        ok(shell.run(export))
        # The placeholders AC… and … are the reader's credentials: the test overrides them.
        ok(shell.run(your_credentials(sandbox)))
        ok(shell.run(redis_server))
        wait_until(lambda: redis_answers(port), "Redis answers", shell.background[-1])
        ok(shell.run(worker))

        summary = last_json(ok(shell.run(send)).out)
        assert (summary["sent"], summary["total"]) == (2, 2)
        bodies = sorted(m["body"] for m in outbound(sandbox.messages()))
        assert bodies == ["Hi Ada", "Hi Grace"]
        resumed = last_json(ok(shell.run(resume)).out)
        assert resumed["sent"] == 2
        assert len(sandbox.messages()) == 2  # resuming a finished campaign sends nothing

        enqueued = run_python(python_block, folder, env, broker)
        assert enqueued.returncode == 0, enqueued.stderr
        journal = open_journal(postgres_url)

        def step_done() -> bool:
            record = journal.get("order-1234")
            return record is not None and record.state == "sent"

        wait_until(step_done, "the keyed step is sent", *shell.background)
        record = journal.get("order-1234")
        assert record is not None
        assert record.output is not None
        shipped = [m for m in sandbox.messages() if m["body"] == "Your order shipped"]
        assert [m["sid"] for m in shipped] == [record.output["sid"]]
        jobs = list(shell.background)
    assert len(jobs) == 2  # redis-server and the worker, stopped with the terminal
    assert not any(running(pid) for pid in jobs)


def signed_webhook(url: str, fields: Mapping[str, str], token: str) -> str:
    from twilio.request_validator import RequestValidator

    return str(RequestValidator(token).compute_signature(url, dict(fields)))


def test_receiving_messages(
    folder: Path,
    env: dict[str, str],
    sandbox: SandboxAt,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The three commands each in its own terminal, the next one pasted once the one before is
    ready; then the WSGI application of the Python block, mounted in Flask as its last comment
    says, answering a webhook Twilio signed over the public URL."""
    shell_block, python_block = section("Receiving messages")
    port = free_port()
    # The sandbox serves on a free port instead of 8099 (which may be taken on this machine).
    on_port = {"--port 8099": f"--port {port}", "127.0.0.1:8099": f"127.0.0.1:{port}"}
    serve, listen, text = pasted(shell_block, 3, on_port)
    with (
        terminal(folder, env) as first,
        terminal(folder, env) as second,
        terminal(folder, env) as third,
    ):
        first.type(serve)
        served = json.loads(first.wait_for_line(is_json_object, "the sandbox's JSON line"))
        demo = SandboxAt(**served)
        second.type(listen)
        listening = json.loads(second.wait_for_line(is_json_object, "listen's first line"))
        assert demo.number("+15005550006")["sms_url"] == listening["webhook_url"]

        answer = ok(third.run(text)).json()
        assert SID.fullmatch(answer["sid"])
        (delivery,) = answer["deliveries"]
        assert delivery["status"] == 200
        assert delivery["content_type"].startswith("text/xml")
        assert delivery["body"].endswith("<Response/>")
        ran = json.loads(second.wait_for_line(lambda line: '"event"' in line, "a run's line"))
        assert ran["event"] == answer["sid"]
        assert set(ran["tasks"]) == {"reply"}
        (reply,) = outbound(demo.messages())
        assert (reply["from"], reply["to"]) == ("+15005550006", "+15558675310")

        ok(second.interrupt())  # Ctrl-C: the number's previous webhook is put back
        assert demo.number("+15005550006")["sms_url"] == ""
        interrupt_sandbox(first, served["base_url"])

    monkeypatch.chdir(folder)
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE_URL"):
        monkeypatch.setenv(name, env[name])
    script = folder.parent / "readme_wsgi.py"
    script.write_text(python_block.text, encoding="utf-8")
    hooks = runpy.run_path(str(script))["hooks"]

    import flask
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    app = flask.Flask("engine")
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/twilio": hooks})  # type: ignore[method-assign]
    fields = {
        "AccountSid": sandbox.account_sid,
        "MessageSid": "SM" + "e" * 32,
        "From": "+15558675310",
        "To": "+15005550006",
        "Body": "Hello?",
    }
    public = "https://hooks.example.com/twilio/twilio/v1/newIncomingSMS"
    capsys.readouterr()
    answered = app.test_client().post(
        "/twilio/twilio/v1/newIncomingSMS",
        data=urlencode(fields),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signed_webhook(public, fields, sandbox.auth_token)},
    )
    assert answered.status_code == 200
    assert answered.content_type.startswith("text/xml")
    assert answered.text.endswith("<Response/>")
    printed = capsys.readouterr().out
    assert printed.startswith("twilio/v1/newIncomingSMS ")
    assert "SM" + "e" * 32 in printed


MY_ENGINE = '''\
"""A reader's engine, as the README's test imports it: it runs a step through a Host sending
to the Twilio API at the address it is given."""

from twilio_component import Host, Settings


class MyEngine:
    def __init__(self, twilio_base_url, account_sid, auth_token):
        self.host = Host.load(Settings(base_url=twilio_base_url))
        self.connection = {"username": account_sid, "password": auth_token}

    def run_step(self, step):
        return self.host.execute(step, connection=self.connection)
'''


def test_testing_your_engine_against_the_sandbox(folder: Path, env: dict[str, str]) -> None:
    """The block is a test module of the reader's: pytest runs it (the twilio_sandbox fixture
    comes from the installed package) beside an engine of theirs, my_engine.py."""
    (block,) = section("Testing your engine against the sandbox")
    project = folder.parent / "engine"
    project.mkdir()
    (project / "my_engine.py").write_text(MY_ENGINE, encoding="utf-8")
    (project / "test_my_engine.py").write_text(block.text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "test_my_engine.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


class _Webhook(http.server.BaseHTTPRequestHandler):
    """A number's SMS webhook: records each delivery and answers empty TwiML."""

    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.end_headers()
        self.wfile.write(b"<Response/>")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A webhook on loopback: its URL and the deliveries it received."""
    received: list[tuple[dict[str, str], bytes]] = []
    handler = type("Webhook", (_Webhook,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sms", received
    finally:
        server.shutdown()
        server.server_close()


def test_sandbox_control_api(
    folder: Path,
    env: dict[str, str],
    sandbox: SandboxAt,
    webhook: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    """curl with the command line's variables (TWILIO_API_BASE_URL the sandbox's address): the
    message is stored once and the number's SmsUrl (a webhook of the test's) gets it twice, with
    one idempotency token. Then the Python block, on an embedded sandbox."""
    shell_block, python_block = section("Sandbox control API")
    url, received = webhook
    number = sandbox.number("+15005550006")
    updated = requests.post(
        f"{sandbox.base_url}/2010-04-01/Accounts/{sandbox.account_sid}"
        f"/IncomingPhoneNumbers/{number['sid']}.json",
        data={"SmsUrl": url},
        auth=(sandbox.account_sid, sandbox.auth_token),
        timeout=30,
    )
    assert updated.status_code == 200, updated.text
    (text,) = pasted(shell_block, 1)
    with terminal(folder, env) as shell:
        answer = ok(shell.run(text)).json()
    assert SID.fullmatch(answer["sid"])
    assert [d["status"] for d in answer["deliveries"]] == [200, 200]
    tokens = {headers["I-Twilio-Idempotency-Token"] for headers, _ in received}
    assert len(received) == 2
    assert len(tokens) == 1
    assert all(b"Body=Hello%21" in body for _, body in received)
    (message,) = sandbox.messages()
    assert (message["sid"], message["direction"], message["body"]) == (
        answer["sid"],
        "inbound",
        "Hello!",
    )

    done = run_python(python_block, folder, env)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"SM[0-9a-f]{32} \[\]\n", done.stdout), done.stdout


def test_console(folder: Path, env: dict[str, str]) -> None:
    (block,) = section("Console")
    port = free_port()
    # The sandbox serves on a free port instead of 8099 (which may be taken on this machine).
    (serve,) = pasted(block, 1, {"--port 8099": f"--port {port}"})
    with terminal(folder, env) as shell:
        shell.type(serve)
        served = json.loads(shell.wait_for_line(is_json_object, "the sandbox's JSON line"))
        console = served["console_url"]
        assert console.startswith(f"http://127.0.0.1:{port}/_console/")
        page = requests.get(console, timeout=30)
        assert page.status_code == 200
        assert "Send reply" in page.text
        assert requests.get(console.split("?")[0], timeout=30).status_code == 401
        interrupt_sandbox(shell, served["base_url"])


def test_one_time_codes(folder: Path, env: dict[str, str], sandbox: SandboxAt) -> None:
    """Against the sandbox process the environment points at: a service, a code sent, read back
    from the control API, and checked."""
    (block,) = section("One-time codes")
    service, start, code, check = pasted(block, 4)
    with terminal(folder, env) as shell:
        ok(shell.run(service))
        started = ok(shell.run(start)).json()
        ok(shell.run(code))
        checked = ok(shell.run(check)).json()
    assert started["status"] == "pending"
    assert (checked["status"], checked["valid"]) == ("approved", True)
    assert checked["sid"] == started["sid"]


def test_looking_numbers_up(folder: Path, env: dict[str, str]) -> None:
    (block,) = section("Looking numbers up")
    national, landline = pasted(block, 2)
    with terminal(folder, env) as shell:
        found = ok(shell.run(national)).json()
        london = ok(shell.run(landline)).json()
    assert (found["phoneNumber"], found["valid"]) == ("+14158675309", True)
    assert (london["countryCode"], london["lineType"]) == ("GB", "landline")


def test_sending_responsibly(folder: Path, env: dict[str, str]) -> None:
    """National numbers read as US ones, an opt-out added by hand skipped, the window kept (the
    row sent or deferred, by the time of day), and the opt-outs exported."""
    (block,) = section("Sending responsibly")
    rows, step, optout, send, export = pasted(block, 5)
    with terminal(folder, env) as shell:
        ok(shell.run(rows))
        ok(shell.run(step))
        ok(shell.run(optout))
        sent = shell.run(send)
        exported = ok(shell.run(export))
    assert sent.code in (0, 4), str(sent)
    summary = sent.json()
    assert (summary["total"], summary["duplicates"], summary["opted_out"]) == (2, 1, 1)
    assert summary["sent"] + summary["deferred"] == 1
    assert "+14158675302,+15005550006,added," in exported.out


def test_calls(folder: Path, env: dict[str, str]) -> None:
    (block,) = section("Calls")
    (call,) = pasted(block, 1)
    with terminal(folder, env) as shell:
        placed = ok(shell.run(call)).json()
    assert len(placed) == 21
    assert placed["sid"].startswith("CA")
    assert (placed["status"], placed["to"]) == ("queued", "+15558675310")


def test_agents(folder: Path, env: dict[str, str]) -> None:
    """The client configuration as a client runs it (its command found on the client's PATH,
    from the repository's folder), with the official MCP Python client: the tools, one send,
    the same key again, and the fifth send past the configured cap of five refused."""
    from mcp_peers import over_stdio

    (block,) = section("Agents")
    (server,) = json.loads(block.text)["mcpServers"].values()
    sms = {"To": "+15558675310", "From": "+15005550006", "Body": "Agent says hi"}
    calls = [("twilio_sendSMS", {**sms, "idempotencyKey": "k"})] * 2
    calls += [("twilio_sendSMS", {**sms, "Body": f"send {n}"}) for n in range(5)]
    seen = over_stdio(
        server["args"],
        {**server["env"], "PATH": env["PATH"], "HOME": env["HOME"]},
        calls,
        command=[server["command"]],
        cwd=folder,
    )
    assert {"twilio_sendSMS", "twilio_getMessage"} <= set(seen.tools)
    first, again, *more = seen.results
    assert first.structured_content["sid"] == again.structured_content["sid"]
    assert [r.is_error for r in more] == [False, False, False, False, True]
