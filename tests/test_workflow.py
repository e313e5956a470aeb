"""Workflow files: tasks run in order, ${input} and ${task.field} references, outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import FROM, TO, Cli, creates

from twilio_component.errors import StepError
from twilio_component.sandbox import Sandbox
from twilio_component.twilio.settings import Settings
from twilio_component.workflow import resolve, typed_input

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_example_workflow_second_task_uses_first_tasks_sid(
    cli: Cli, twilio_sandbox: Sandbox
) -> None:
    result = cli("run", str(EXAMPLES / "notify_and_confirm.json"), "--input", f"customer={TO}")
    assert result.code == 0, result.err
    run = result.json()
    first, second = run["tasks"]["notify"], run["tasks"]["confirm"]
    assert second["body"] == f"Reference for your records: {first['sid']} (1 segment)."
    assert run["outputs"] == {
        "notificationSid": first["sid"],
        "confirmationSid": second["sid"],
        "sentFrom": "+15005550006",
    }
    assert creates(twilio_sandbox) == 2


def test_example_step_file_runs_as_a_one_task_workflow(cli: Cli) -> None:
    result = cli("run", str(EXAMPLES / "send_sms_step.json"))
    assert result.code == 0, result.err
    assert result.json()["tasks"]["sendSMS"]["body"] == "Hello from twilio-component!"


def test_missing_required_input_exits_2_and_sends_nothing(
    cli: Cli, twilio_sandbox: Sandbox
) -> None:
    result = cli("run", str(EXAMPLES / "notify_and_confirm.json"))
    assert result.code == 2
    assert "customer" in result.err
    assert "--input" in result.err
    assert twilio_sandbox.requests == []


def test_failed_task_prints_what_finished_before_it(
    cli: Cli, tmp_path: Path, twilio_sandbox: Sandbox
) -> None:
    workflow = json.loads((EXAMPLES / "notify_and_confirm.json").read_text())
    workflow["tasks"][1]["parameters"]["To"] = "+15005550004"  # unsubscribed: Twilio refuses
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(workflow))
    result = cli("run", str(path), "--input", f"customer={TO}")
    assert result.code == 5  # notify was sent, so not 3 ("nothing was sent")
    assert list(result.json()["tasks"]) == ["notify"]
    assert "21610" in result.err
    assert creates(twilio_sandbox) == 2


def test_reference_to_a_later_task_is_refused_before_sending(
    cli: Cli, tmp_path: Path, twilio_sandbox: Sandbox
) -> None:
    workflow = json.loads((EXAMPLES / "notify_and_confirm.json").read_text())
    workflow["tasks"][0]["parameters"]["Body"] = "${confirm.sid}"
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(workflow))
    result = cli("run", str(path), "--input", f"customer={TO}")
    assert result.code == 2
    assert "confirm" in result.err
    assert twilio_sandbox.requests == []


def test_branching_step_types_are_refused_with_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "wf.json"
    path.write_text(
        json.dumps({"tasks": [{"name": "when", "type": "condition/v1", "parameters": {}}]})
    )
    result = cli("validate", str(path))
    assert result.code == 2
    assert "branching, loops and formulas are not supported" in result.err


def test_validate_accepts_the_examples_and_sends_nothing(cli: Cli, twilio_sandbox: Sandbox) -> None:
    for name in ("send_sms_step.json", "notify_and_confirm.json"):
        result = cli("validate", str(EXAMPLES / name))
        assert result.code == 0, result.err
    assert twilio_sandbox.requests == []


def test_validate_reports_invalid_literal_parameters(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "step.json"
    path.write_text(
        json.dumps({"type": "twilio/v1/sendSMS", "parameters": {"To": "12345", "Body": ""}})
    )
    result = cli("validate", str(path))
    assert result.code == 2
    assert {line.split(":")[0] for line in result.err.splitlines()} == {"To", "From", "Body"}


@pytest.mark.parametrize(
    "parameters",
    [
        {"To": TO, "From": "${sender}", "Body": "hi"},
        {"To": "${customer}", "From": "whatsapp:+15005550006", "Body": "hi"},
        {
            "To": TO,
            "MessagingServiceSid": "${service}",
            "ShortenUrls": True,
            "SendAt": "${when}",
            "Body": "hi",
        },
        {"To": TO, "From": FROM, "ContentSid": "${template}", "ContentVariables": {"1": "x"}},
    ],
)
def test_validate_counts_a_referenced_parameter_as_given(
    parameters: dict[str, Any], cli: Cli, tmp_path: Path
) -> None:
    workflow = {
        "inputs": [{"name": n} for n in ("sender", "customer", "service", "when", "template")],
        "tasks": [{"name": "send", "type": "twilio/v1/sendMessage", "parameters": parameters}],
    }
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(workflow))
    result = cli("validate", str(path))
    assert (result.code, result.err) == (0, f"{path}: valid\n")


def test_validate_still_judges_the_literal_parameters_beside_a_reference(
    cli: Cli, tmp_path: Path
) -> None:
    task = {
        "name": "send",
        "type": "twilio/v1/sendMessage",
        "parameters": {"To": "${customer}", "From": "12", "Body": "hi", "ValidityPeriod": 0},
    }
    path = tmp_path / "wf.json"
    path.write_text(json.dumps({"inputs": [{"name": "customer"}], "tasks": [task]}))
    result = cli("validate", str(path))
    assert result.code == 2
    assert [line.split(":")[0] for line in result.err.splitlines()[:2]] == [
        "tasks[0].parameters.From",
        "tasks[0].parameters.ValidityPeriod",
    ]


def test_whole_reference_keeps_the_value_and_embedded_reference_becomes_text() -> None:
    scope = {"task": {"from": {"rawNumber": "+1555"}, "n": 2}}
    assert resolve("${task.from}", scope) == {"rawNumber": "+1555"}
    assert resolve("n=${task.n}, ${task.from.rawNumber}", scope) == "n=2, +1555"


def test_formula_in_a_reference_is_refused() -> None:
    with pytest.raises(StepError, match="formulas are not supported"):
        resolve("${task.n + 1}", {"task": {"n": 1}})


def typed_workflow(tmp_path: Path) -> Path:
    workflow = {
        "inputs": [
            {"name": "validity", "type": "INTEGER", "required": True},
            {"name": "smart", "type": "BOOLEAN", "required": True},
        ],
        "tasks": [
            {
                "name": "send",
                "type": "twilio/v1/sendMessage",
                "parameters": {
                    "To": TO,
                    "From": FROM,
                    "Body": "typed",
                    "ValidityPeriod": "${validity}",
                    "SmartEncoded": "${smart}",
                },
            }
        ],
    }
    path = tmp_path / "typed.json"
    path.write_text(json.dumps(workflow))
    return path


def test_inputs_given_as_text_take_their_declared_type(
    cli: Cli, tmp_path: Path, twilio_sandbox: Sandbox
) -> None:
    path = typed_workflow(tmp_path)
    result = cli("run", str(path), "--input", "validity=600", "--input", "smart=TRUE")
    assert result.code == 0, result.err
    (request,) = [r for r in twilio_sandbox.requests if r.method == "POST"]
    assert (request.form["ValidityPeriod"], request.form["SmartEncoded"]) == (["600"], ["true"])


def test_an_input_that_is_not_its_declared_type_exits_2_and_sends_nothing(
    cli: Cli, tmp_path: Path, twilio_sandbox: Sandbox
) -> None:
    path = typed_workflow(tmp_path)
    result = cli("run", str(path), "--input", "validity=ten", "--input", "smart=yes")
    assert result.code == 2
    assert "inputs.validity: 'ten' is not a whole number" in result.err
    assert "inputs.smart: 'yes' is not true or false" in result.err
    assert twilio_sandbox.requests == []


@pytest.mark.parametrize(
    ("spec", "text", "expected"),
    [
        ({"type": "NUMBER"}, "2.5", 2.5),
        ({"type": "OBJECT"}, '{"1": "Jane"}', {"1": "Jane"}),
        ({"type": "ARRAY"}, '["a", "b"]', ["a", "b"]),
        ({"type": "STRING"}, "600", "600"),
        ({}, "true", "true"),
    ],
)
def test_typed_input_converts_text_by_declared_type(
    spec: dict[str, str], text: str, expected: object
) -> None:
    assert typed_input(spec, text) == (expected, None)


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("INTEGER", "1" * 5000),
        ("INTEGER", "1_000"),
        ("NUMBER", "nan"),
        ("NUMBER", "inf"),
        ("OBJECT", "[" * 100_000),
        ("ARRAY", "1" * 5000),
        ("BOOLEAN", "yes"),
    ],
)
def test_typed_input_refuses_text_that_is_not_its_type_with_a_reason(kind: str, text: str) -> None:
    value, problem = typed_input({"type": kind}, text)
    assert (value, bool(problem)) == (text, True)


def test_the_first_task_failing_says_no_task_ran_before_it(
    cli: Cli, tmp_path: Path, twilio_sandbox: Sandbox
) -> None:
    result = cli(
        "run",
        str(EXAMPLES / "send_sms_step.json"),
        env={
            "TWILIO_ACCOUNT_SID": twilio_sandbox.account_sid,
            "TWILIO_AUTH_TOKEN": "a-wrong-token-of-some-length",
            "TWILIO_API_BASE_URL": twilio_sandbox.base_url,
        },
    )
    assert result.code == 3
    assert "no task had run before it" in result.err
    assert "finished (printed above)" not in result.err


def test_an_unknown_top_level_key_is_named_with_the_known_ones() -> None:
    from twilio_component.workflow import workflow_problems

    document = {"tasks": [{"name": "a", "type": "x/v1/y", "parameters": {}}], "taks": []}
    problems = workflow_problems(document, ("x/v1/y",))
    assert [p.path for p in problems] == ["taks"]
    assert "known: name" in problems[0].reason


def test_a_trigger_without_a_type_says_it_is_required() -> None:
    from twilio_component.workflow import workflow_problems

    document = {"trigger": {}, "tasks": [{"name": "a", "type": "x/v1/y", "parameters": {}}]}
    problems = workflow_problems(document, ("x/v1/y",), triggers={})
    assert [(p.path, p.reason.split(",")[0]) for p in problems] == [("trigger.type", "is required")]


def _two_tasks(second_to: str) -> dict[str, Any]:
    return {
        "tasks": [
            {
                "name": "first",
                "type": "twilio/v1/sendSMS",
                "parameters": {"To": TO, "From": FROM, "Body": "one"},
            },
            {
                "name": "second",
                "type": "twilio/v1/sendSMS",
                "parameters": {"To": second_to, "From": FROM, "Body": "two"},
            },
        ]
    }


def test_run_refuses_a_workflow_whose_second_task_is_invalid_before_sending_the_first(
    cli: Cli, tmp_path: Path, twilio_sandbox: Sandbox
) -> None:
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(_two_tasks("12345")))
    result = cli("run", str(path))
    assert result.code == 2, result.err
    assert "task 'second' would not be valid:\nTo: '12345' is not an E.164 number" in result.err
    assert "nothing was sent" in result.err
    assert creates(twilio_sandbox) == 0


def test_run_sends_both_tasks_when_the_second_is_valid(
    cli: Cli, tmp_path: Path, twilio_sandbox: Sandbox
) -> None:
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(_two_tasks("+15558675311")))
    result = cli("run", str(path))
    assert result.code == 0, result.err
    assert list(result.json()["tasks"]) == ["first", "second"]
    assert creates(twilio_sandbox) == 2


def test_host_run_refuses_what_validate_refuses_before_anything_runs(
    twilio_sandbox: Sandbox,
) -> None:
    from twilio_component import Host, WorkflowError

    with (
        Host.load(Settings(base_url=twilio_sandbox.base_url)) as host,
        pytest.raises(WorkflowError, match=r"tasks\[1\]\.parameters\.To"),
    ):
        host.run(_two_tasks("12345"), connections={"twilio": twilio_sandbox.connection})
    assert creates(twilio_sandbox) == 0


def test_host_run_with_a_run_id_sends_each_task_once_across_reruns(
    twilio_sandbox: Sandbox, tmp_path: Path
) -> None:
    from twilio_component import Host

    settings = Settings(base_url=twilio_sandbox.base_url, journal=str(tmp_path / "runs.db"))
    with Host.load(settings) as host:
        connections = {"twilio": twilio_sandbox.connection}
        first = host.run(_two_tasks("+15558675311"), connections=connections, run_id="r-1")
        again = host.run(_two_tasks("+15558675311"), connections=connections, run_id="r-1")
    assert again.tasks == first.tasks
    assert creates(twilio_sandbox) == 2


@pytest.mark.parametrize(
    ("outputs", "named"),
    [
        ({"sid": "${notify.sid}"}, "outputs: must be a list"),
        ([{"value": "${notify.sid}"}], "outputs[0]: must be"),
        (["${notify.sid}"], "outputs[0]: must be"),
    ],
)
def test_outputs_that_are_not_a_list_of_name_and_value_are_refused(
    cli: Cli, tmp_path: Path, outputs: Any, named: str
) -> None:
    workflow = json.loads((EXAMPLES / "notify_and_confirm.json").read_text())
    workflow["outputs"] = outputs
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(workflow))
    result = cli("validate", str(path))
    assert result.code == 2
    assert named in result.err
