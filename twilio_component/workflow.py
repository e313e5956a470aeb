"""Runs a workflow file: inputs, tasks in order with ``${...}`` references, and outputs."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from twilio_component.errors import ComponentError, Problem, StepError

# ``${name.field}``; ``$${`` writes a literal ``${`` (group 1 is then "$").
_REFERENCE = re.compile(r"\$(\$?)\{([^}]*)\}")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*$")

Execute = Callable[[Mapping[str, Any]], dict[str, Any]]


class StepSchemas(Protocol):
    """Where static checks find a step type's output definition (a Host is one)."""

    def output_definition(self, step_type: str) -> Mapping[str, Any] | None:
        """The descriptor's output tree of the step type (``properties``), or None."""


@dataclass
class WorkflowRun:
    """What a workflow produced so far: each finished task's output, then the workflow outputs."""

    tasks: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The run as printed by ``twilio-component run``."""
        return {"tasks": self.tasks, "outputs": self.outputs}


class WorkflowFailed(ComponentError):
    """A task failed; ``run`` holds the outputs of the tasks that finished before it.

    ``completed`` names those tasks, each with the SID its output carries (None if none).
    """

    def __init__(self, task: str, error: ComponentError, run: WorkflowRun) -> None:
        self.task = task
        self.error = error
        self.run = run
        self.may_have_sent = error.may_have_sent or bool(run.tasks)
        done = ", ".join(f"{name} ({sid})" if sid else name for name, sid in self.completed.items())
        before = f"after task(s) {done} ran" if done else "before any task ran"
        super().__init__(f"task {task!r} failed {before}: {error}")

    @property
    def completed(self) -> dict[str, str | None]:
        """Each task that finished before the failure, with its output's ``sid`` if any."""
        return {
            name: output.get("sid") if isinstance(output, Mapping) else None
            for name, output in self.run.tasks.items()
        }


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
    names: set[str] = set(_input_names(document, problems))
    outputs: dict[str, Mapping[str, Any] | None] = {}
    for key in document:
        if key not in WORKFLOW_KEYS:
            problems.append(
                Problem(str(key), f"is not a workflow key (known: {', '.join(WORKFLOW_KEYS)})")
            )
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
            match = _REFERENCE.fullmatch(value) if isinstance(value, str) else None
            whole = match is not None and not match.group(1)
            for ref in _references(value):
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
    for index, out in enumerate(_outputs(document)):
        for ref in _references(out.get("value")):
            found = _reference_problems(ref, names, f"outputs[{index}].value")
            if not found and schemas is not None:
                found = _field_problems(ref, outputs, f"outputs[{index}].value", whole=False)
            problems.extend(found)
    return problems


#: The name workflow references use for the event that started the run: ``${trigger.from}``.
TRIGGER = "trigger"
#: What a workflow file may hold at its top level.
WORKFLOW_KEYS = ("name", "label", "description", "inputs", "trigger", "tasks", "outputs")


def _trigger_problems(
    trigger: object, triggers: Mapping[str, Mapping[str, Any]] | None, problems: list[Problem]
) -> Mapping[str, Any] | None:
    """Problems of a workflow's ``trigger``; its event definition when it names a known one."""
    if not isinstance(trigger, Mapping):
        problems.append(Problem("trigger", 'must be an object: {"type": …, "parameters": {…}}'))
        return None
    kind = trigger.get("type")
    if kind is None:
        problems.append(Problem("trigger.type", "is required, e.g. twilio/v1/newIncomingSMS"))
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


def run_workflow(
    document: Mapping[str, Any],
    inputs: Mapping[str, Any],
    execute: Execute,
    *,
    event: Mapping[str, Any] | None = None,
) -> WorkflowRun:
    """Run every task in order; raise WorkflowFailed (with what finished) if one fails.

    ``event`` is what started the run (a trigger's event), referenced as ``${trigger.…}``.
    """
    problems: list[Problem] = []
    declared = _input_names(document, problems)
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
    run = WorkflowRun()
    scope: dict[str, Any] = dict(values)
    if event is not None:
        scope[TRIGGER] = dict(event)
    for task in document["tasks"]:
        try:
            step = {**task, "parameters": resolve(task.get("parameters", {}), scope)}
            output = execute(step)
        except ComponentError as error:
            raise WorkflowFailed(task["name"], error, run) from None
        run.tasks[task["name"]] = output
        scope[task["name"]] = output
    for out in _outputs(document):
        try:
            run.outputs[out["name"]] = resolve(out.get("value"), scope)
        except StepError as error:
            raise WorkflowFailed(f"outputs.{out['name']}", error, run) from None
    return run


def typed_input(spec: Mapping[str, Any], value: Any) -> tuple[Any, str | None]:
    """An input given as text (``--input NAME=VALUE``) as its declared type, or why it is not.

    Values that are not text are taken as they are; their parameters' checks judge them.
    """
    kind = spec.get("type", "STRING")
    if not isinstance(value, str) or kind in ("STRING", "DATE_TIME"):
        return value, None
    text = value.strip()
    if kind == "BOOLEAN":
        if text.lower() in ("true", "false"):
            return text.lower() == "true", None
        return value, f"{value!r} is not true or false"
    if kind == "INTEGER":
        if re.fullmatch(r"[+-]?[0-9]{1,30}", text):
            return int(text), None
        return value, f"{value!r} is not a whole number"
    if kind == "NUMBER":
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return number, None
        return value, f"{value!r} is not a number"
    if kind in ("OBJECT", "ARRAY"):
        wanted = dict if kind == "OBJECT" else list
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):  # not JSON, or nested or sized beyond reason
            parsed = None
        if isinstance(parsed, wanted):
            return parsed, None
        return value, f"is not JSON of {'an object' if kind == 'OBJECT' else 'a list'}"
    return value, None


def resolve(value: Any, scope: Mapping[str, Any]) -> Any:
    """``value`` with every ``${name.field}`` replaced from ``scope``.

    A string that is exactly one reference takes the referenced value as it is (an object stays an
    object); references inside longer text are replaced by their text.
    """
    if isinstance(value, str):
        whole = _REFERENCE.fullmatch(value)
        if whole and not whole.group(1):
            return _lookup(whole.group(2).strip(), scope)
        return _REFERENCE.sub(
            lambda m: (
                "${" + m.group(2) + "}" if m.group(1) else _text(_lookup(m.group(2).strip(), scope))
            ),
            value,
        )
    if isinstance(value, list):
        return [resolve(item, scope) for item in value]
    if isinstance(value, Mapping):
        return {k: resolve(v, scope) for k, v in value.items()}
    return value


def _substitute(match: re.Match[str], scope: Mapping[str, Any]) -> str:
    if match.group(1):  # $${...}: the literal text ${...}
        return "${" + match.group(2) + "}"
    return _text(_lookup(match.group(2).strip(), scope))


def _lookup(path: str, scope: Mapping[str, Any]) -> Any:
    if not _PATH.fullmatch(path):
        raise StepError(
            f"${{{path}}} is not a reference (formulas are not supported; use ${{task.field}})"
        )
    head, *rest = path.split(".")
    if head not in scope:
        raise StepError(f"${{{path}}} refers to {head!r}, which is no input or earlier task")
    current: Any = scope[head]
    for index, part in enumerate(rest):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            so_far = ".".join([head, *rest[:index]])
            raise StepError(f"${{{path}}}: {so_far} has no field {part!r}")
    return current


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _references(value: Any) -> list[str]:
    if isinstance(value, str):
        return [m.group(2).strip() for m in _REFERENCE.finditer(value) if not m.group(1)]
    if isinstance(value, list):
        return [r for item in value for r in _references(item)]
    if isinstance(value, Mapping):
        return [r for item in value.values() for r in _references(item)]
    return []


def _reference_problems(ref: str, names: set[str], where: str) -> list[Problem]:
    if not _PATH.fullmatch(ref):
        return [Problem(where, f"${{{ref}}} is not a reference (formulas are not supported)")]
    head = ref.split(".", maxsplit=1)[0]
    if head not in names:
        return [Problem(where, f"${{{ref}}} refers to {head!r}, which is no input or earlier task")]
    return []


def _input_names(document: Mapping[str, Any], problems: list[Problem]) -> list[str]:
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


def _outputs(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
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
