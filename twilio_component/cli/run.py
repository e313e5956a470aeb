"""``run`` and ``validate``: a workflow file run, or checked as ``run`` checks it (nothing sent)."""

from __future__ import annotations

import argparse
import contextlib
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from twilio_component.cli.arguments import network_options, pairs, read_json
from twilio_component.cli.console import (
    EPILOG,
    EXIT_INVALID,
    EXIT_OK,
    Console,
    SentThenFailed,
    UsageError,
    one_line,
)
from twilio_component.cli.target import target
from twilio_component.errors import Problem, WorkflowError


def add(commands: Any) -> None:
    """The run and validate commands."""
    parser = commands.add_parser(
        "run",
        help="run a workflow file (tasks in order, ${input} and ${task.field} references)",
        description="Run a workflow file and print every task's output and the workflow outputs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("workflow", metavar="WORKFLOW.json")
    parser.add_argument(
        "--input", action="append", default=[], metavar="NAME=VALUE", help="a workflow input"
    )
    parser.add_argument(
        "--run-id",
        metavar="ID",
        help="name this run (needs --journal): running it again with the same ID resumes it, "
        "each task sent at most once, recorded outputs reused",
    )
    network_options(parser)

    parser.set_defaults(handler=run)

    checker = commands.add_parser(
        "validate",
        help="check a step or workflow file; sends nothing",
        description="Check every parameter of a step or of every task of a workflow file, "
        "report each problem by name, and send nothing. Exit 0 when valid, 2 when not.",
    )
    checker.add_argument("file", metavar="FILE.json", help="a step or a workflow, as JSON")

    checker.set_defaults(handler=validate)


def run(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    """run: a workflow file (or one step) run, every task's output printed."""
    from twilio_component.workflow import WorkflowFailed, is_workflow

    document = read_json(args.workflow)
    inputs: dict[str, str] = {}
    for name, value in pairs(args.input, "--input"):
        if name in inputs:
            raise UsageError(f"--input {name}: given twice; give each input once")
        inputs[name] = value
    if (args.run_id is None) != (args.journal is None):
        raise UsageError(
            "--run-id and --journal go together: the journal records the run's tasks "
            "under its ID, so that running it again resumes it"
        )
    with target(args, console, environ) as (host, connections):
        if not is_workflow(document):
            document = (
                {"tasks": [{"name": document.get("name", "step"), **document}]}
                if isinstance(document, dict)
                else document
            )
        by_component = connections.for_workflow(document)
        try:
            run = host.run(document, connections=by_component, inputs=inputs, run_id=args.run_id)
        except WorkflowError as invalid:
            for line in _by_task(document, invalid.problems):
                console.problem(one_line(line))
            console.problem(f"nothing was sent ({len(invalid.problems)} problem(s)).")
            return EXIT_INVALID
        except WorkflowFailed as failure:
            with contextlib.suppress(OSError, ValueError):
                console.result(failure.run.as_json())
            if not failure.run.tasks:
                console.problem(f"task {failure.task!r} failed; no task had run before it.")
                raise failure.error from None
            raise
    try:
        console.result(run.as_json())
        console.out.flush()
    except (OSError, ValueError) as error:
        raise SentThenFailed(
            f"every task ran, but the output could not be written ({type(error).__name__}); "
            "do not run the workflow again"
        ) from None
    return EXIT_OK


_TASK_PARAMETER = re.compile(r"tasks\[([0-9]+)\]\.parameters\.(.+)")


def _by_task(document: Any, problems: Sequence[Problem]) -> Iterator[str]:
    """Problems as ``run`` prints them: each task's parameters under the task's name, by
    their own names (``To: …``), as the step itself reports them; the rest by their path."""
    named: dict[int, list[str]] = {}
    for problem in problems:
        match = _TASK_PARAMETER.fullmatch(problem.path)
        if match is None:
            yield str(problem)
        else:
            named.setdefault(int(match[1]), []).append(f"{match[2]}: {problem.reason}")
    for index, lines in sorted(named.items()):
        yield f"task {document['tasks'][index].get('name')!r} would not be valid:"
        yield from lines


def validate(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    """validate: every problem of a step or workflow file; nothing sent."""
    from twilio_component.host import Host
    from twilio_component.workflow import check_workflow, is_workflow

    document = read_json(args.file)
    host = Host.load()
    if is_workflow(document):
        problems = check_workflow(document, host, trigger="allowed")
    else:
        problems = host.check_step(document)
    for problem in problems:
        console.problem(str(problem))
    if problems:
        return EXIT_INVALID
    console.problem(f"{args.file}: valid")
    return EXIT_OK
