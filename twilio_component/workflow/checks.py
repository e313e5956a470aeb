"""What makes a workflow runnable, checked before anything runs: its shape, its references,
each task's literal parameters and its trigger's parameters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, Protocol

from twilio_component.errors import Problem
from twilio_component.triggers.protocol import Answering
from twilio_component.workflow.references import PATH, fill, is_whole_reference, references

__all__ = [
    "TRIGGER",
    "WORKFLOW_KEYS",
    "Steps",
    "TriggerRule",
    "check_workflow",
    "is_workflow",
    "workflow_problems",
]


class StepSchemas(Protocol):
    """Where static checks find a step type's output definition (a Host is one)."""

    def output_definition(self, step_type: str) -> Mapping[str, Any] | None:
        """The descriptor's output tree of the step type (``properties``), or None."""


class Steps(StepSchemas, Protocol):
    """What a workflow is checked and run against: the step types a host runs, their checks
    and outputs, and its triggers (a Host is one)."""

    @property
    def step_types(self) -> tuple[str, ...]:
        """Every step type that can run."""

    def check_step(self, step: object) -> list[Problem]:
        """Every problem with a step's parameters."""

    def trigger_events(self) -> dict[str, Mapping[str, Any]]:
        """Each trigger type's event definition."""

    def check_trigger(self, trigger_type: str, parameters: object) -> list[Problem]:
        """Every problem with a trigger's parameters."""

    def receipt(self, step_type: str, output: Mapping[str, Any]) -> str | None:
        """What names the thing an output says was done (a message's ID), if anything."""

    def answering(self, trigger_type: str) -> Answering | None:
        """The trigger's handler when its webhook is answered with the workflow's answer."""


#: Whether a workflow may have a trigger: ``run`` refuses one, ``validate`` takes either,
#: ``listen`` needs one.
TriggerRule = Literal["refused", "allowed", "required"]


def check_workflow(
    document: object, steps: Steps, *, trigger: TriggerRule = "refused"
) -> list[Problem]:
    """Every problem that stops a workflow from running as written; empty when it can run.

    Beyond ``workflow_problems`` (shape, names, references and the fields they name), each
    task's literal parameters are checked as the step would check them (a referenced value is
    known only when the workflow runs: it counts as given, and the checks judge the rest), and
    a trigger's parameters as the trigger would. ``trigger`` says whether the workflow may
    have a trigger (see TriggerRule).
    """
    triggers = None if trigger == "refused" else steps.trigger_events()
    problems = workflow_problems(document, steps.step_types, steps, triggers=triggers)
    if problems or not isinstance(document, Mapping):
        return problems
    event = document.get("trigger")
    if trigger == "required" and event is None:
        return [Problem("trigger", 'is missing: {"type": …, "parameters": {…}}')]
    if isinstance(event, Mapping):
        problems = [
            Problem(f"trigger.parameters.{p.path}", p.reason)
            for p in steps.check_trigger(event["type"], event.get("parameters", {}))
        ]
    if "answer" in document:
        problems.extend(_answer_problems(document["answer"], event, steps))
    for index, task in enumerate(document["tasks"]):
        given = task.get("parameters", {})
        referenced = {k for k, v in given.items() if references(v)}
        shaped = {k: None if k in referenced else v for k, v in given.items()}
        for p in steps.check_step({**task, "parameters": shaped}):
            if p.path.split("[")[0] not in referenced:
                problems.append(Problem(f"tasks[{index}].parameters.{p.path}", p.reason))
    return problems


def _answer_problems(answer: object, event: object, steps: Steps) -> list[Problem]:
    """Problems of a workflow's ``answer``: the text its trigger's webhook is answered with,
    checked by the trigger with every reference replaced by sample text."""
    if not isinstance(answer, str):
        return [Problem("answer", "must be text (the answer to the trigger's webhook)")]
    if not isinstance(event, Mapping):
        return [Problem("answer", "is what a trigger's webhook is answered; add a trigger")]
    answering = steps.answering(event["type"])
    if answering is None:
        return [
            Problem(
                "answer",
                f"{event['type']} answers its webhook itself; remove answer "
                "(only a trigger that waits for content, such as an incoming call, takes one)",
            )
        ]
    reason = answering.answer_problem(fill(answer, lambda _path: "sample", answering.escape))
    return [] if reason is None else [Problem("answer", reason)]


def is_workflow(document: object) -> bool:
    """Whether a parsed file is a workflow (it has tasks) rather than a single step."""
    return isinstance(document, Mapping) and "tasks" in document


def workflow_problems(
    document: object,
    known_types: tuple[str, ...],
    schemas: StepSchemas | None = None,
    *,
    triggers: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Problem]:
    """Structural problems of a workflow: shape, names, types and references (sends nothing).

    With ``schemas``, a reference to a task's output is checked against that task's output
    schema: the field must exist, and a field that may be null cannot be a parameter's whole
    value (it would arrive as null where a value is needed). ``triggers`` maps each trigger
    type to its event's output definition: a workflow with a ``trigger`` must name one of
    them, and ``${trigger.field}`` is checked against it; without ``triggers`` a workflow
    cannot have a trigger.
    """
    if not isinstance(document, Mapping):
        return [Problem("", "a workflow must be an object with 'tasks'")]
    problems: list[Problem] = []
    tasks = document.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        return [Problem("tasks", "must be a non-empty list of steps")]
    names: set[str] = set(input_names(document, problems))
    outputs: dict[str, Mapping[str, Any] | None] = {}
    for key in document:
        if key not in WORKFLOW_KEYS:
            problems.append(
                Problem(str(key), f"is not a workflow key (known: {', '.join(WORKFLOW_KEYS)})")
            )
    _output_shape_problems(document.get("outputs", []), problems)
    if "trigger" in document:
        event = _trigger_problems(document["trigger"], triggers, problems)
        names.add(TRIGGER)
        outputs[TRIGGER] = event
    for index, task in enumerate(tasks):
        where = f"tasks[{index}]"
        if not isinstance(task, Mapping):
            problems.append(Problem(where, "must be an object"))
            continue
        name = task.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            problems.append(Problem(f"{where}.name", "must be a name of letters, digits and _"))
            continue
        if name in names:
            problems.append(Problem(f"{where}.name", f"{name!r} is already an input or task name"))
        step_type = task.get("type")
        if step_type not in known_types:
            hint = (
                "branching, loops and formulas are not supported; " if _is_flow(step_type) else ""
            )
            problems.append(
                Problem(
                    f"{where}.type",
                    f"{step_type!r} is not a step type here ({hint}"
                    f"available: {', '.join(known_types)})",
                )
            )
        parameters = task.get("parameters", {})
        if not isinstance(parameters, Mapping):
            problems.append(Problem(f"{where}.parameters", "must be an object"))
            parameters = {}
        for key, value in parameters.items():
            whole = is_whole_reference(value)
            for ref in references(value):
                found = _reference_problems(ref, names, f"{where}.parameters.{key}")
                if not found and schemas is not None:
                    found = _field_problems(ref, outputs, f"{where}.parameters.{key}", whole)
                problems.extend(found)
        names.add(name)
        outputs[name] = (
            schemas.output_definition(step_type)
            if schemas is not None and isinstance(step_type, str)
            else None
        )
    for index, out in enumerate(declared_outputs(document)):
        for ref in references(out.get("value")):
            found = _reference_problems(ref, names, f"outputs[{index}].value")
            if not found and schemas is not None:
                found = _field_problems(ref, outputs, f"outputs[{index}].value", whole=False)
            problems.extend(found)
    for ref in references(document.get("answer")):
        found = _reference_problems(ref, names, "answer")
        if not found and schemas is not None:
            found = _field_problems(ref, outputs, "answer", whole=False)
        problems.extend(found)
    return problems


#: The name workflow references use for the event that started the run: ``${trigger.from}``.
TRIGGER = "trigger"
#: What a workflow file may hold at its top level.
WORKFLOW_KEYS = (
    "name",
    "label",
    "description",
    "inputs",
    "trigger",
    "tasks",
    "outputs",
    "answer",
)


def _trigger_problems(
    trigger: object, triggers: Mapping[str, Mapping[str, Any]] | None, problems: list[Problem]
) -> Mapping[str, Any] | None:
    """Problems of a workflow's ``trigger``; its event definition when it names a known one."""
    if not isinstance(trigger, Mapping):
        problems.append(Problem("trigger", 'must be an object: {"type": …, "parameters": {…}}'))
        return None
    kind = trigger.get("type")
    if kind is None:
        known = ", ".join(triggers or ()) or "none here"
        problems.append(Problem("trigger.type", f"is required, one of: {known}"))
        return None
    if triggers is None:
        problems.append(
            Problem("trigger", "a workflow with a trigger is run by `listen`, not `run`")
        )
        return None
    if not isinstance(kind, str) or kind not in triggers:
        problems.append(
            Problem(
                "trigger.type",
                f"{kind!r} is not a trigger type here (available: {', '.join(triggers) or 'none'})",
            )
        )
        return None
    if not isinstance(trigger.get("parameters", {}), Mapping):
        problems.append(Problem("trigger.parameters", "must be an object"))
    return triggers[kind]


def _field_problems(
    ref: str, outputs: Mapping[str, Mapping[str, Any] | None], where: str, whole: bool
) -> list[Problem]:
    """Whether ``${task.field…}`` names a field of that task's output, never null when whole."""
    head, *fields = ref.split(".")
    spec = outputs.get(head)
    if spec is None:  # an input, or a step whose output nobody described
        return []
    nullable = False
    for index, part in enumerate(fields):
        known = {p["name"]: p for p in spec.get("properties", ())}
        if part in known:
            spec = known[part]
            nullable = nullable or bool(spec.get("nullable", False))
            continue
        if "additionalProperties" in spec:
            spec = spec["additionalProperties"]
            continue
        so_far = ".".join([head, *fields[:index]])
        names = ", ".join(known) or "none"
        return [Problem(where, f"${{{ref}}}: {so_far} has no field {part!r} (it has: {names})")]
    if whole and nullable:
        return [
            Problem(
                where,
                f"${{{ref}}} may be null, and a parameter's whole value cannot be null; put it "
                "inside text, or refer to a field that is always given",
            )
        ]
    return []


def _reference_problems(ref: str, names: set[str], where: str) -> list[Problem]:
    if not PATH.fullmatch(ref):
        return [Problem(where, f"${{{ref}}} is not a reference (formulas are not supported)")]
    head = ref.split(".", maxsplit=1)[0]
    if head not in names:
        return [Problem(where, f"${{{ref}}} refers to {head!r}, which is no input or earlier task")]
    return []


def input_names(document: Mapping[str, Any], problems: list[Problem]) -> list[str]:
    names: list[str] = []
    specs = document.get("inputs", []) or []
    if not isinstance(specs, list):
        problems.append(Problem("inputs", 'must be a list of objects, e.g. [{"name": "customer"}]'))
        return names
    for index, spec in enumerate(specs):
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            problems.append(Problem(f"inputs[{index}]", "must be an object with a 'name'"))
            continue
        names.append(spec["name"])
    return names


def _output_shape_problems(declared: object, problems: list[Problem]) -> None:
    """``outputs`` must be a list of ``{"name": …, "value": …}`` objects."""
    if declared is None:
        return
    if not isinstance(declared, list):
        problems.append(Problem("outputs", 'must be a list: [{"name": …, "value": "${…}"}]'))
        return
    for index, out in enumerate(declared):
        if not (isinstance(out, Mapping) and isinstance(out.get("name"), str) and "value" in out):
            problems.append(Problem(f"outputs[{index}]", 'must be {"name": …, "value": …}'))


def declared_outputs(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    outputs = document.get("outputs", []) or []
    return [o for o in outputs if isinstance(o, Mapping) and isinstance(o.get("name"), str)]


def _is_flow(step_type: object) -> bool:
    return isinstance(step_type, str) and step_type.split("/")[0] in {
        "condition",
        "branch",
        "loop",
        "each",
        "parallel",
        "map",
        "switch",
        "subflow",
    }
