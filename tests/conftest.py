"""Shared fixtures: a host and a command line pointed at the sandbox (`twilio_sandbox`)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from twilio_component.cli import main
from twilio_component.host import Host
from twilio_component.sandbox import Sandbox
from twilio_component.settings import RetryPolicy
from twilio_component.twilio.settings import Settings

REPOSITORY = Path(__file__).resolve().parents[1]
#: Files opened beside the repository (e.g. ../shared): a plain clone has nothing there.
OUTSIDE_READS: list[str] = []


def _names_beside() -> frozenset[str]:
    try:
        return frozenset(os.listdir(REPOSITORY.parent))
    except OSError:
        return frozenset()


#: What was beside the repository before the tests ran. A clone in /tmp has pytest's tmp_path
#: and the tests' temporary folders beside it too: those are made by the run, not read from it.
_BESIDE_AT_START = _names_beside()


def _record_outside_reads(event: str, args: tuple[Any, ...]) -> None:
    if event != "open" or not isinstance(args[0], str | bytes | os.PathLike):
        return
    path = os.path.abspath(os.fsdecode(args[0]))
    beside = str(REPOSITORY.parent) + os.sep
    if path.startswith(beside) and not path.startswith(str(REPOSITORY) + os.sep):
        first = path[len(beside) :].split(os.sep, 1)[0]
        if first in _BESIDE_AT_START and not first.startswith("pytest-of-"):
            OUTSIDE_READS.append(path)


sys.addaudithook(_record_outside_reads)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any test read a file beside the repository instead of inside it."""
    if OUTSIDE_READS:
        sys.stderr.write(
            "tests read files outside the repository (ship them in tests/data):\n  "
            + "\n  ".join(sorted(set(OUTSIDE_READS)))
            + "\n"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


MESSAGES_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
#: No wall-clock deadline for any property example: a loaded machine (CI on 2 cores, tests
#: in 4 workers) must not fail a property that holds. Time belongs to benchmarks/.
hypothesis_settings.register_profile("no-deadline", deadline=None)
hypothesis_settings.load_profile("no-deadline")

TO = "+15558675310"
FROM = "+15005550006"


def no_sleep(seconds: float) -> None:
    """A sleep that returns at once, for retry tests."""


@pytest.fixture
def host(twilio_sandbox: Sandbox) -> Iterator[Host]:
    """A host that sends to the sandbox, validating every output, retrying without sleeping."""
    settings = Settings(
        base_url=twilio_sandbox.base_url,
        strict_output=True,
        retry=RetryPolicy(sleep=no_sleep),
    )
    with Host.load(settings) as loaded:
        yield loaded


def sms_step(**parameters: Any) -> dict[str, Any]:
    """A twilio/v1/sendSMS step; To, From and Body default to valid values."""
    values = {"To": TO, "From": FROM, "Body": "Hello from the tests"}
    values.update(parameters)
    return {
        "type": "twilio/v1/sendSMS",
        "parameters": {k: v for k, v in values.items() if v is not None},
    }


def creates(sandbox: Sandbox) -> int:
    """How many create requests (POST Messages.json) reached the sandbox."""
    return sum(
        1 for r in sandbox.requests if r.method == "POST" and r.path.endswith("/Messages.json")
    )


@dataclass
class CliResult:
    """What one run of the command line produced."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.out)


Cli = Callable[..., CliResult]


@pytest.fixture
def sandbox_env(twilio_sandbox: Sandbox) -> dict[str, str]:
    """The environment that points the command line at the sandbox."""
    return {
        "TWILIO_ACCOUNT_SID": twilio_sandbox.account_sid,
        "TWILIO_AUTH_TOKEN": twilio_sandbox.auth_token,
        "TWILIO_API_BASE_URL": twilio_sandbox.base_url,
    }


@pytest.fixture
def cli(sandbox_env: dict[str, str]) -> Cli:
    """Run ``twilio-component ARGS`` in this process with the sandbox's environment."""

    def run(
        *argv: str, env: Mapping[str, str] | None = None, settings: Settings | None = None
    ) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        environ = sandbox_env if env is None else env
        code = main(list(argv), environ=environ, stdout=out, stderr=err, settings=settings)
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A PostgreSQL server for the session: the one named by TWILIO_COMPONENT_TEST_POSTGRES, or
    a private one started here (never skipped: a missing server binary fails the tests)."""
    from postgres_server import URL_VARIABLE, private_server

    given = os.environ.get(URL_VARIABLE)
    if given:
        yield given
        return
    with private_server() as server:
        yield server.url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> str:
    """A new, empty database for one test."""
    from postgres_server import fresh_database

    return fresh_database(postgres_server_url)


@pytest.fixture
def redis_server() -> Iterator[Any]:
    """A private Redis server for one test, on a free port: the test may kill and restart it
    (never skipped: a missing redis-server fails the test)."""
    from redis_server import private_server

    with private_server() as server:
        yield server


@pytest.fixture
def postgres_server() -> Iterator[Any]:
    """A private PostgreSQL server for one test, which it may stop, kill and start again."""
    from postgres_server import private_server

    with private_server() as server:
        yield server


ACME = Path(__file__).parent / "acme"
PIP_INSTALL = (sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check")
#: The token of the test acme component's connection (a secret: never printed).
ACME_TOKEN = "acme-token-123456"


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The acme package built from its own pyproject and installed into a directory of its own
    (put it on PYTHONPATH to have it found by entry point)."""
    target = tmp_path_factory.mktemp("acme-installed")
    subprocess.run(
        [*PIP_INSTALL, "--no-deps", "--target", str(target), str(ACME)],
        check=True,
        capture_output=True,
    )
    return target


@pytest.fixture(scope="session", autouse=True)
def listener_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Listeners keep what they replaced in a folder of the test session's own."""
    folder = tmp_path_factory.mktemp("listener-state")
    before = os.environ.get("TWILIO_COMPONENT_STATE")
    os.environ["TWILIO_COMPONENT_STATE"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("TWILIO_COMPONENT_STATE", None)
    else:
        os.environ["TWILIO_COMPONENT_STATE"] = before
