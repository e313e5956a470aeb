"""A fast yes-or-maybe check compiled from the JSON Schema subset our descriptors produce.

``compile_check(schema)`` returns a predicate that answers True only when the instance is valid
for the schema; False means "let jsonschema look" (it also explains every problem). The valid
path, which is every step a healthy workflow runs, therefore costs a few dictionary lookups and
regular-expression matches instead of a walk through jsonschema's machinery. A schema using a
keyword outside the subset gets no predicate (None) and is always checked by jsonschema.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]

_ANNOTATIONS = frozenset(
    {"$schema", "title", "description", "examples", "writeOnly", "readOnly", "default", "$comment"}
)


class _Unsupported(Exception):
    """The schema uses a keyword this compiler does not handle."""


def compile_check(
    schema: Mapping[str, Any], formats: Mapping[str, Callable[[object], bool]] | None = None
) -> Check | None:
    """A predicate that is True only for instances valid against ``schema``, or None."""
    try:
        return _value(schema, formats or {})
    except _Unsupported:
        return None


def _type_test(kind: Any) -> Check:
    kinds = kind if isinstance(kind, list) else [kind]
    tests: list[Check] = []
    for name in kinds:
        if name == "string":
            tests.append(lambda v: type(v) is str)
        elif name == "integer":
            tests.append(lambda v: type(v) is int)
        elif name == "number":
            tests.append(lambda v: type(v) in (int, float))
        elif name == "boolean":
            tests.append(lambda v: type(v) is bool)
        elif name == "array":
            tests.append(lambda v: type(v) is list)
        elif name == "object":
            tests.append(lambda v: type(v) is dict)
        elif name == "null":
            tests.append(lambda v: v is None)
        else:
            raise _Unsupported(name)
    if len(tests) == 1:
        return tests[0]
    return lambda v: any(test(v) for test in tests)


def _value(schema: Mapping[str, Any], formats: Mapping[str, Callable[[object], bool]]) -> Check:
    kind = schema.get("type")
    if isinstance(kind, list) and "object" in kind:
        if not set(schema) - _ANNOTATIONS - {"type"}:
            return _type_test(kind)  # e.g. an object or its JSON text, checked later in code
        if kind != ["object", "null"]:
            raise _Unsupported("type")
        inner = _object({**schema, "type": "object"}, formats)
        return lambda v: v is None or inner(v)
    if kind == "object" or "properties" in schema or "additionalProperties" in schema:
        return _object(schema, formats)
    checks: list[Check] = []
    for keyword, limit in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        if keyword == "type":
            checks.append(_type_test(limit))
        elif keyword == "format" and limit in formats:
            checks.append(formats[limit])
        elif keyword == "items":
            checks.append(_items(_value(limit, formats)))
        elif keyword in _KEYWORDS:
            checks.append(_KEYWORDS[keyword](limit))
        else:
            raise _Unsupported(keyword)
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(check(v) for check in checks)


def _pattern(limit: str) -> Check:
    search = re.compile(limit).search
    return lambda v: type(v) is not str or search(v) is not None


def _min_length(limit: int) -> Check:
    return lambda v: type(v) is not str or len(v) >= limit


def _max_length(limit: int) -> Check:
    return lambda v: type(v) is not str or len(v) <= limit


def _minimum(limit: float) -> Check:
    return lambda v: type(v) not in (int, float) or v >= limit


def _maximum(limit: float) -> Check:
    return lambda v: type(v) not in (int, float) or v <= limit


def _min_items(limit: int) -> Check:
    return lambda v: type(v) is not list or len(v) >= limit


def _max_items(limit: int) -> Check:
    return lambda v: type(v) is not list or len(v) <= limit


def _enum(limit: list[Any]) -> Check:
    allowed = tuple(limit)
    return lambda v: any(type(v) is type(x) and v == x for x in allowed)


def _items(item: Check) -> Check:
    return lambda v: type(v) is not list or all(item(x) for x in v)


_KEYWORDS: dict[str, Callable[[Any], Check]] = {
    "pattern": _pattern,
    "minLength": _min_length,
    "maxLength": _max_length,
    "minimum": _minimum,
    "maximum": _maximum,
    "minItems": _min_items,
    "maxItems": _max_items,
    "enum": _enum,
}


def _object(schema: Mapping[str, Any], formats: Mapping[str, Callable[[object], bool]]) -> Check:
    properties: dict[str, Check] = {}
    required: tuple[str, ...] = ()
    closed = False
    extra: Check | None = None
    groups: list[tuple[str, ...]] = []
    exclusive: list[tuple[str, ...]] = []
    dependents: list[tuple[str, tuple[str, ...]]] = []
    for keyword, limit in schema.items():
        if keyword in _ANNOTATIONS or (keyword == "type" and limit == "object"):
            continue
        if keyword == "properties":
            properties = {name: _value(sub, formats) for name, sub in limit.items()}
        elif keyword == "required":
            required = tuple(limit)
        elif keyword == "additionalProperties" and limit is False:
            closed = True
        elif keyword == "additionalProperties" and isinstance(limit, Mapping):
            extra = _value(limit, formats)
        elif keyword == "allOf":
            for part in limit:
                _rule(part, groups, exclusive, dependents)
        else:
            raise _Unsupported(keyword)

    def check(value: Any) -> bool:
        if type(value) is not dict:
            return False
        for name in required:
            if name not in value:
                return False
        for name, item in value.items():
            test = properties.get(name)
            if test is None:
                if closed or (extra is not None and not extra(item)):
                    return False
            elif not test(item):
                return False
        for group in groups:
            if not any(name in value for name in group):
                return False
        for group in exclusive:
            if sum(name in value for name in group) != 1:
                return False
        for when, needs in dependents:
            if when in value and not all(name in value for name in needs):
                return False
        return True

    return check


def _rule(
    part: Mapping[str, Any],
    groups: list[tuple[str, ...]],
    exclusive: list[tuple[str, ...]],
    dependents: list[tuple[str, tuple[str, ...]]],
) -> None:
    keywords = set(part) - _ANNOTATIONS
    if keywords in ({"anyOf"}, {"oneOf"}):
        (keyword,) = keywords
        names = []
        for option in part[keyword]:
            if set(option) != {"required"} or len(option["required"]) != 1:
                raise _Unsupported(keyword)
            names.append(option["required"][0])
        (groups if keyword == "anyOf" else exclusive).append(tuple(names))
    elif keywords == {"dependentRequired"}:
        dependents.extend((when, tuple(needs)) for when, needs in part["dependentRequired"].items())
    else:
        raise _Unsupported(", ".join(sorted(keywords)))
