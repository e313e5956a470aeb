"""``${name.field}`` references in a workflow's values: finding, resolving and typing them."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from twilio_component.errors import StepError

__all__ = [
    "REFERENCE",
    "fill",
    "is_whole_reference",
    "lookup",
    "references",
    "resolve",
    "typed_input",
]

# ``${name.field}``; ``$${`` writes a literal ``${`` (group 1 is then "$").
REFERENCE = re.compile(r"\$(\$?)\{([^}]*)\}")
PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*$")


def is_whole_reference(value: object) -> bool:
    """Whether ``value`` is exactly one reference (it then takes the referenced value as is)."""
    match = REFERENCE.fullmatch(value) if isinstance(value, str) else None
    return match is not None and not match.group(1)


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
    return _resolve(value, lambda path: _lookup(path, scope))


def fill(template: str, value_of: Callable[[str], Any], escape: Callable[[str], str]) -> str:
    """``template`` with every reference replaced by the text of ``value_of(path)``, escaped
    (e.g. for XML), and ``$${`` by ``${``: the text a workflow's ``answer`` becomes."""
    return REFERENCE.sub(
        lambda m: "${" + m.group(2) + "}" if m.group(1) else escape(_text(value_of(m.group(2)))),
        template,
    )


def lookup(path: str, scope: Mapping[str, Any]) -> Any:
    """The value ``${path}`` refers to in ``scope``; StepError naming what is missing."""
    return _lookup(path.strip(), scope)


def _resolve(value: Any, value_of: Callable[[str], Any]) -> Any:
    if isinstance(value, str):
        whole = REFERENCE.fullmatch(value)
        if whole and not whole.group(1):
            return value_of(whole.group(2).strip())
        return REFERENCE.sub(
            lambda m: (
                "${" + m.group(2) + "}" if m.group(1) else _text(value_of(m.group(2).strip()))
            ),
            value,
        )
    if isinstance(value, list):
        return [_resolve(item, value_of) for item in value]
    if isinstance(value, Mapping):
        return {k: _resolve(v, value_of) for k, v in value.items()}
    return value


def _lookup(path: str, scope: Mapping[str, Any]) -> Any:
    if not PATH.fullmatch(path):
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


def references(value: Any) -> list[str]:
    """Every ``${name.field}`` that ``value`` (text, or lists and objects of it) refers to."""
    if isinstance(value, str):
        return [m.group(2).strip() for m in REFERENCE.finditer(value) if not m.group(1)]
    if isinstance(value, list):
        return [r for item in value for r in references(item)]
    if isinstance(value, Mapping):
        return [r for item in value.values() for r in references(item)]
    return []
