"""Compiled validators for step parameters and connections, reporting every problem by name."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker, ValidationError

from twilio_component.descriptor import Property
from twilio_component.errors import Problem
from twilio_component.fastcheck import compile_check
from twilio_component.schemas import JSON_TYPES

#: Checks across parameters that JSON Schema cannot say, by rule name:
#: (parameters, rule) -> problems. Components add theirs through the host.
RuleCheck = Callable[[Mapping[str, Any], Mapping[str, Any]], list[Problem]]

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}
# The descriptor's name of a JSON Schema keyword in ``messages``, where they differ.
_MESSAGE_KEYS = {"enum": "options"}
# Keywords whose reason starts with the value itself ("'abc' is not ..."); the others speak of
# its size or kind, where repeating a long value only gets in the way.
_SHOWS_VALUE = frozenset({"pattern", "format", "minimum", "maximum", "enum"})


def _is_url(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False
    return parts.scheme in ("http", "https") and bool(hostname) and " " not in value


def parse_date_time(value: object) -> datetime | None:
    """An ISO 8601 date and time with a zone (``2030-01-31T12:00:00Z``), or None if it is not."""
    if not isinstance(value, str) or "T" not in value.upper():
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        if parsed.tzinfo is None:
            return None
        parsed.astimezone(UTC)  # a moment UTC cannot hold (year 1 at +01:00) is no date
    except (ValueError, OverflowError):
        return None
    return parsed


def utc_stamp(moment: datetime) -> str:
    """``moment`` in UTC as ``YYYY-MM-DDTHH:MM:SSZ``, the form Twilio uses."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or parse_date_time(value) is not None


def format_checker() -> FormatChecker:
    """The formats our schemas use, checked without optional third-party packages."""
    checker = FormatChecker(formats=())
    checker.checks("uri")(_is_url)
    checker.checks("date-time")(_is_date_time)
    return checker


def json_type(value: object) -> str:
    """The JSON type name of a Python value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


class ObjectValidator:
    """Validates one object (a step's parameters or a connection) against a compiled schema."""

    def __init__(
        self,
        schema: Mapping[str, Any],
        properties: Sequence[Property],
        *,
        owner: str,
        show_values: bool = True,
        checks: Sequence[tuple[Mapping[str, Any], RuleCheck]] = (),
    ) -> None:
        Draft202012Validator.check_schema(schema)
        self.schema = schema
        formats = format_checker()
        self._validator = Draft202012Validator(schema, format_checker=formats)
        # Yes-or-maybe: when it says yes, jsonschema would find nothing; otherwise it explains.
        self._valid = compile_check(
            schema, {name: func for name, (func, _) in formats.checkers.items()}
        )
        self._properties = {p.name: p for p in properties}
        self._owner = owner
        self._show_values = show_values
        self._checks = tuple(checks)
        self._json_texts = {
            p.name: JSON_TYPES[p.type] for p in properties if p.raw.get("acceptsJsonString")
        }

    def problems(self, instance: object) -> list[Problem]:
        """Every problem with ``instance``, in parameter order, each with its name and reason."""
        if not isinstance(instance, Mapping):
            return [Problem("", f"{self._owner} must be an object, not {json_type(instance)}")]
        found: list[Problem] = []
        if self._valid is None or not self._valid(instance):
            for error in self._validator.iter_errors(instance):
                found.extend(self._explain(error, instance))
        found.extend(self._json_text_problems(instance))
        # Rule checks run whatever else is wrong, so every problem is reported at once; each
        # check skips values of the wrong type, which the schema has already reported.
        for rule, check in self._checks:
            found.extend(check(instance, rule))
        order = {name: i for i, name in enumerate(self._properties)}
        found.sort(key=lambda p: (order.get(p.path.split("[")[0], len(order)), p.path))
        return _unique(found)

    def _json_text_problems(self, instance: Mapping[str, Any]) -> list[Problem]:
        """A value given as JSON text must parse to the property's own type."""
        found = []
        for name, wanted in self._json_texts.items():
            text = instance.get(name)
            if not isinstance(text, str):
                continue
            hint = self._properties[name].raw.get("messages", {}).get("type") or (
                f"must be {_TYPE_NAMES[wanted]}, or its JSON text"
            )
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as exc:
                found.append(
                    Problem(name, f"is not valid JSON ({exc.msg} at character {exc.pos}); {hint}")
                )
                continue
            except (ValueError, RecursionError):  # too deeply nested, or a number too long
                found.append(Problem(name, f"is JSON text too deeply nested or too large; {hint}"))
                continue
            if json_type(parsed) != wanted and {wanted, json_type(parsed)} != {"number", "integer"}:
                found.append(
                    Problem(name, f"is JSON text of {_TYPE_NAMES[json_type(parsed)]}; {hint}")
                )
        return found

    def _explain(self, error: ValidationError, instance: Mapping[str, Any]) -> list[Problem]:
        path = list(error.absolute_path)
        keyword = str(error.validator)
        if not path:
            return self._explain_root(error, instance, keyword)
        name = str(path[0])
        where = name + "".join(f"[{p}]" for p in path[1:])
        prop = self._properties.get(name)
        spec: Mapping[str, Any] = prop.raw if prop else {}
        custom = spec.get("messages", {}).get(_MESSAGE_KEYS.get(keyword, keyword))
        value = error.instance
        shown = self._show(prop, value)
        if custom:
            shown = shown if keyword in _SHOWS_VALUE else ""
            return [Problem(where, f"{shown} {custom}" if shown else custom)]
        return [Problem(where, _generic_reason(keyword, error, value, shown))]

    def _explain_root(
        self, error: ValidationError, instance: Mapping[str, Any], keyword: str
    ) -> list[Problem]:
        limit: Any = error.validator_value
        schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
        if keyword == "required":
            missing = [n for n in limit if n not in instance]
            return [Problem(n, "is required") for n in missing]
        if keyword == "additionalProperties":
            return [
                Problem(str(n), self._unknown(str(n)))
                for n in instance
                if n not in self._properties
            ]
        if keyword == "dependentRequired":
            reason = schema.get("description") or error.message
            missing = [
                need
                for when, needs in limit.items()
                if when in instance
                for need in needs
                if need not in instance
            ]
            return [Problem(n, reason) for n in missing] or [Problem("", reason)]
        if keyword in ("anyOf", "oneOf"):
            names = [s["required"][0] for s in limit]
            given = [n for n in names if n in instance]
            if len(given) > 1:  # oneOf: more than one given
                listed = ", ".join(names[:-1]) + f" or {names[-1]}"
                reason = f"is given with {', '.join(given[:-1])}: give only one of {listed}"
                return [Problem(given[-1], reason)]
            reason = schema.get("description") or f"one of {', '.join(names)} is required"
            return [Problem(names[0], reason)]
        return [Problem("", error.message)]

    def _unknown(self, name: str) -> str:
        known = ", ".join(self._properties) or "none"
        by_folded = {n.casefold(): n for n in self._properties}
        close = difflib.get_close_matches(name.casefold(), by_folded, n=1, cutoff=0.75)
        guess = f"; did you mean {by_folded[close[0]]}?" if close else ""
        return f"is not a parameter of {self._owner}{guess} (known: {known})"

    def _show(self, prop: Property | None, value: object) -> str:
        if not self._show_values or (prop is not None and prop.secret):
            return ""
        text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
        return text if len(text) <= 60 else text[:57] + "..."


def text_problems(value: object, path: str = "") -> list[Problem]:
    """Every string in ``value`` (and in its lists and objects) that is not valid Unicode text,
    a lone surrogate say, which no service and no journal can be given; each by its path."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return [Problem(path, "is not valid text (it holds a lone surrogate)")]
        return []
    if isinstance(value, Mapping):
        return [
            p
            for key, item in value.items()
            for p in text_problems(item, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(value, list | tuple):
        return [p for i, item in enumerate(value) for p in text_problems(item, f"{path}[{i}]")]
    return []


def _generic_reason(keyword: str, error: ValidationError, value: object, shown: str) -> str:
    limit: Any = error.validator_value
    subject = f"{shown} " if shown else ""
    if keyword == "type":
        wanted = limit if isinstance(limit, list) else [limit]
        names = " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in wanted)
        return f"must be {names}, not {json_type(value)}"
    if keyword == "minLength":
        if limit == 1:
            return "must not be empty"
        return f"is {len(value)} characters long; at least {limit} are needed"  # type: ignore[arg-type]
    if keyword == "maxLength":
        return f"is {len(value)} characters long; at most {limit} are allowed"  # type: ignore[arg-type]
    if keyword == "minimum":
        return f"{subject}is too small; the least allowed is {limit}"
    if keyword == "maximum":
        return f"{subject}is too large; the most allowed is {limit}"
    if keyword == "maxItems":
        return f"has {len(value)} items; at most {limit} are allowed"  # type: ignore[arg-type]
    if keyword == "minItems":
        return f"has {len(value)} items; at least {limit} are needed"  # type: ignore[arg-type]
    if keyword == "enum":
        return f"{subject}is not one of: {', '.join(map(str, limit))}"
    if keyword == "pattern":
        return f"{subject}does not match the pattern {limit}"
    if keyword == "format" and limit == "uri":
        return f"{subject}is not an http or https URL"
    if keyword == "format" and limit == "date-time":
        return f"{subject}is not an ISO 8601 date and time with a zone (e.g. 2030-01-31T12:00:00Z)"
    return f"{subject}is not valid ({keyword}: {limit})"


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    result = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            result.append(problem)
    return result


__all__ = [
    "ObjectValidator",
    "RuleCheck",
    "format_checker",
    "json_type",
    "parse_date_time",
    "utc_stamp",
]
