"""Workflows: tasks in order with ``${input}``, ``${task.field}`` and ``${trigger.field}``
references, checked whole before anything runs, resumable under a run ID."""

from __future__ import annotations

from twilio_component.workflow.checks import (
    TRIGGER,
    WORKFLOW_KEYS,
    Steps,
    check_workflow,
    is_workflow,
    workflow_problems,
)
from twilio_component.workflow.driver import (
    Execute,
    Workflow,
    WorkflowFailed,
    WorkflowRun,
    run_key,
)
from twilio_component.workflow.references import references, resolve, typed_input

__all__ = [
    "TRIGGER",
    "WORKFLOW_KEYS",
    "Execute",
    "Steps",
    "Workflow",
    "WorkflowFailed",
    "WorkflowRun",
    "check_workflow",
    "is_workflow",
    "references",
    "resolve",
    "run_key",
    "typed_input",
    "workflow_problems",
]
