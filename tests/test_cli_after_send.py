"""Exit codes never promise "nothing was sent" after something was sent."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from conftest import Cli

WORKFLOW = {
    "tasks": [
        {
            "name": "sms",
            "type": "twilio/v1/sendSMS",
            "parameters": {"To": "+15558675310", "From": "+15005550006", "Body": "hi"},
        },
        {
            "name": "again",
            "type": "twilio/v1/sendSMS",
            "parameters": {"To": "+15558675310", "From": "+15005550006", "Body": "${sms.price}"},
        },
    ]
}


#: Task 2's recipient comes from task 1's output, so only running it shows it is no number.
FAILS_AFTER_A_SEND = {
    "tasks": [
        WORKFLOW["tasks"][0],
        {
            "name": "again",
            "type": "twilio/v1/sendSMS",
            "parameters": {"To": "${sms.body}", "From": "+15005550006", "Body": "again"},
        },
    ]
}


def write(tmp_path: Path, workflow: Mapping[str, object] = WORKFLOW) -> str:
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(workflow), encoding="utf-8")
    return str(path)


def test_a_workflow_failing_after_a_send_exits_5_naming_the_sid(cli: Cli, tmp_path: Path) -> None:
    result = cli("run", write(tmp_path, FAILS_AFTER_A_SEND))
    sid = result.json()["tasks"]["sms"]["sid"]
    assert result.code == 5
    assert f"sent {sid}" in result.err
    assert "nothing was sent (" not in result.err


def test_validate_names_a_reference_that_may_be_null(cli: Cli, tmp_path: Path) -> None:
    result = cli("validate", write(tmp_path))
    assert result.code == 2
    assert "${sms.price}" in result.err


def test_a_parameter_given_twice_is_refused_before_sending(cli: Cli) -> None:
    result = cli(
        "send",
        "--to",
        "+15558675310",
        "--from",
        "+15005550006",
        "--body",
        "x",
        "--param",
        "To=+15558675311",
    )
    assert result.code == 2
    assert "--to" in result.err


def test_output_that_cannot_be_written_after_a_send_is_exit_5() -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "twilio_component",
                "send",
                "--sandbox",
                "--to",
                "+15558675310",
                "--from",
                "+15005550006",
                "--body",
                "hi",
            ],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=60,
        )
    assert done.returncode == 5
    assert "SID SM" in done.stderr


def test_a_sandbox_port_out_of_range_is_bad_usage() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "twilio_component", "sandbox", "--port", "70000"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert "65535" in done.stderr


def test_an_empty_base_url_is_refused_not_replaced_by_the_real_twilio(
    cli: Cli, sandbox_env: dict[str, str]
) -> None:
    result = cli(
        "send",
        "--to",
        "+15558675310",
        "--from",
        "+15005550006",
        "--body",
        "x",
        env={**sandbox_env, "TWILIO_API_BASE_URL": ""},
    )
    assert result.code == 2
    assert "TWILIO_API_BASE_URL" in result.err


def test_a_base_url_port_out_of_range_is_refused(cli: Cli, sandbox_env: dict[str, str]) -> None:
    result = cli(
        "send",
        "--to",
        "+15558675310",
        "--from",
        "+15005550006",
        "--body",
        "x",
        env={**sandbox_env, "TWILIO_API_BASE_URL": "http://127.0.0.1:99999"},
    )
    assert result.code == 2
    assert "TWILIO_API_BASE_URL" in result.err


def test_a_region_that_is_not_a_name_is_refused(cli: Cli, sandbox_env: dict[str, str]) -> None:
    env = {k: v for k, v in sandbox_env.items() if k != "TWILIO_API_BASE_URL"}
    result = cli(
        "send",
        "--to",
        "+15558675310",
        "--from",
        "+15005550006",
        "--body",
        "x",
        env={**env, "TWILIO_REGION": "../x"},
    )
    assert result.code == 2
    assert "TWILIO_REGION" in result.err
