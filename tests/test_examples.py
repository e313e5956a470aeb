"""The files in examples/ are valid and run as README.md says, against the sandbox."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import TO, Cli, creates

from twilio_component.sandbox import Sandbox

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.json"))
#: Examples `run` runs alone; the ones with a trigger are served by `listen` (tests/test_listen.py,
#: tests/test_call_triggers.py), the login pair needs a Verify service (below).
LOGIN = ("login_start.json", "login_check.json")
RUNNABLE = [
    p for p in EXAMPLES if '"trigger"' not in p.read_text(encoding="utf-8") and p.name not in LOGIN
]
#: The workflow inputs an example needs that have no default.
INPUTS = {"notify_and_confirm.json": ["--input", f"customer={TO}"]}


def test_there_are_examples_of_a_step_of_each_action_and_a_workflow() -> None:
    names = {path.name for path in EXAMPLES}
    assert {"send_sms_step.json", "send_message_step.json", "notify_and_confirm.json"} <= names
    assert "auto_reply.json" in names


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_is_valid_and_validating_it_sends_nothing(
    example: Path, cli: Cli, twilio_sandbox: Sandbox
) -> None:
    result = cli("validate", str(example))
    assert (result.code, result.err) == (0, f"{example}: valid\n")
    assert creates(twilio_sandbox) == 0


@pytest.mark.parametrize("example", RUNNABLE, ids=[p.name for p in RUNNABLE])
def test_example_runs_against_the_sandbox_and_sends_each_task_once(
    example: Path, cli: Cli, twilio_sandbox: Sandbox
) -> None:
    result = cli("run", str(example), *INPUTS.get(example.name, []))
    assert result.code == 0, result.err
    tasks = result.json()["tasks"]
    assert all(re.fullmatch(r"(SM|MM)[0-9a-f]{32}", task["sid"]) for task in tasks.values())
    assert creates(twilio_sandbox) == len(tasks)


def test_the_login_examples_send_a_code_on_one_run_and_approve_it_on_the_next(
    cli: Cli, twilio_sandbox: Sandbox
) -> None:
    import requests

    folder = EXAMPLES[0].parent
    service = requests.post(
        f"{twilio_sandbox.base_url}/v2/Services",
        data={"FriendlyName": "Shop"},
        auth=(twilio_sandbox.account_sid, twilio_sandbox.auth_token),
        timeout=30,
    ).json()["sid"]
    given = ("--input", f"service={service}", "--input", f"phone={TO}")
    started = cli("run", str(folder / "login_start.json"), *given)
    assert started.code == 0, started.err
    (verification,) = twilio_sandbox.verifications()
    assert started.json()["outputs"]["verification"] == verification["sid"]
    wrong = cli("run", str(folder / "login_check.json"), *given, "--input", "code=000000x")
    assert wrong.json()["outputs"] == {"status": "pending", "approved": False}
    right = cli(
        "run", str(folder / "login_check.json"), *given, "--input", f"code={verification['code']}"
    )
    assert right.json()["outputs"] == {"status": "approved", "approved": True}
