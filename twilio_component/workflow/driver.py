"""The one workflow driver: a workflow checked whole before its first task, then its tasks run
in order, each at most once under a run ID when one is given."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from twilio_component.errors import ComponentError, Problem, StepError, WorkflowError
from twilio_component.triggers.protocol import Answering, WebhookAnswer
from twilio_component.workflow.checks import (
    TRIGGER,
    Steps,
    TriggerRule,
    check_workflow,
    declared_outputs,
    input_names,
)
from twilio_component.workflow.references import fill, lookup, resolve, typed_input

__all__ = ["Execute", "Workflow", "WorkflowFailed", "WorkflowRun", "run_key"]

#: Runs one step, under a key (at most once for it) or none; returns its output object.
Execute = Callable[[Mapping[str, Any], "str | None"], dict[str, Any]]


def run_key(run_id: str, task: str) -> str:
    """The key a task of a resumable run is sent under: running the same ID again finds it."""
    return f"run/{run_id}/{task}"


class Workflow:
    """A workflow file checked once (every problem ``validate`` reports refuses it before
    anything runs), then run any number of times: by ``Host.run``, ``run`` and ``listen``."""

    def __init__(self, document: object, steps: Steps, *, trigger: TriggerRule = "refused") -> None:
        problems = check_workflow(document, steps, trigger=trigger)
        if problems:
            raise WorkflowError(problems)
        assert isinstance(document, Mapping)
        self.document: Mapping[str, Any] = document
        self.steps = steps
        event = document.get("trigger")
        #: The trigger's type and parameters, when the workflow has one.
        self.trigger_type: str | None = event["type"] if isinstance(event, Mapping) else None
        self.trigger_parameters: dict[str, Any] = (
            dict(event.get("parameters", {})) if isinstance(event, Mapping) else {}
        )

    @property
    def step_types(self) -> tuple[str, ...]:
        """The step type of each task, in order."""
        return tuple(task["type"] for task in self.document["tasks"])

    def run(
        self,
        execute: Execute,
        *,
        inputs: Mapping[str, Any] | None = None,
        event: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        answering: Answering | None = None,
    ) -> WorkflowRun:
        """Run every task in order; raise WorkflowFailed (with what finished) if one fails.

        ``event`` is what started the run (a trigger's event), referenced as ``${trigger.…}``.
        With ``run_id`` each task runs under ``run_key(run_id, task)``: running the same ID
        again returns the recorded outputs and sends only what was not sent. With
        ``answering`` (the trigger's handler), the workflow's ``answer`` is filled in last and
        kept in ``WorkflowRun.answer``.
        """
        scope = _inputs(self.document, inputs or {})
        if event is not None:
            scope[TRIGGER] = dict(event)
        run = WorkflowRun()
        receipts: dict[str, str | None] = {}
        for task in self.document["tasks"]:
            name = task["name"]
            key = None if run_id is None else run_key(run_id, name)
            try:
                step = {**task, "parameters": resolve(task.get("parameters", {}), scope)}
                output = execute(step, key)
            except ComponentError as error:
                raise WorkflowFailed(name, error, run, receipts) from None
            run.tasks[name] = output
            receipts[name] = self.steps.receipt(task["type"], output)
            scope[name] = output
        for out in declared_outputs(self.document):
            try:
                run.outputs[out["name"]] = resolve(out.get("value"), scope)
            except StepError as error:
                raise WorkflowFailed(f"outputs.{out['name']}", error, run, receipts) from None
        template = self.document.get("answer")
        if answering is not None and isinstance(template, str):
            try:
                text = fill(template, lambda path: lookup(path, scope), answering.escape)
            except StepError as error:
                raise WorkflowFailed("answer", error, run, receipts) from None
            run.answer_text = text
            run.answer = answering.answer(text)
        return run


def _inputs(document: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The workflow's input values, typed and defaulted; StepError naming every problem."""
    problems: list[Problem] = []
    declared = input_names(document, problems)
    values: dict[str, Any] = {}
    for spec in document.get("inputs", []) or []:
        name = spec["name"]
        if name in inputs:
            value, problem = typed_input(spec, inputs[name])
            if problem:
                problems.append(Problem(f"inputs.{name}", problem))
            values[name] = value
        elif "defaultValue" in spec:
            values[name] = spec["defaultValue"]
        elif spec.get("required", False):
            problems.append(
                Problem(f"inputs.{name}", "is required; pass it with --input NAME=VALUE")
            )
    for name in inputs:
        if name not in declared:
            problems.append(
                Problem(
                    f"inputs.{name}",
                    f"is not an input of this workflow (known: {', '.join(declared) or 'none'})",
                )
            )
    if problems:
        raise StepError("; ".join(str(p) for p in problems))
    return values


@dataclass
class WorkflowRun:
    """What a workflow produced so far: each finished task's output, then the workflow outputs."""

    tasks: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    #: The trigger's webhook answer made of the workflow's ``answer``, and its text.
    answer: WebhookAnswer | None = None
    answer_text: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The run as printed by ``twilio-component run`` (and ``listen``, with its answer)."""
        done: dict[str, Any] = {"tasks": self.tasks, "outputs": self.outputs}
        if self.answer_text is not None:
            done["answer"] = self.answer_text
        return done


class WorkflowFailed(ComponentError):
    """A task failed; ``run`` holds the outputs of the tasks that finished before it.

    ``completed`` names those tasks, each with the SID its output carries (None if none).
    """

    def __init__(
        self,
        task: str,
        error: ComponentError,
        run: WorkflowRun,
        receipts: Mapping[str, str | None] | None = None,
    ) -> None:
        self.task = task
        self.error = error
        self.run = run
        self.receipts = dict(receipts or {})
        self.may_have_sent = error.may_have_sent or bool(run.tasks)
        done = ", ".join(f"{name} ({sid})" if sid else name for name, sid in self.completed.items())
        before = f"after task(s) {done} ran" if done else "before any task ran"
        super().__init__(f"task {task!r} failed {before}: {error}")

    @property
    def completed(self) -> dict[str, str | None]:
        """Each task that finished before the failure, with what its output says it did (a
        message's ID) when its component tells."""
        return {name: self.receipts.get(name) for name in self.run.tasks}
