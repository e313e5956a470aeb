"""The answers of Verify and Lookup against their official descriptions (tests/data, MIT)."""

from __future__ import annotations

import functools
import json
from typing import Any

from jsonschema import Draft4Validator
from openapi import DATA, _format_checker, _to_json_schema

__all__ = ["assert_valid_product_response"]


@functools.cache
def _spec(name: str) -> dict[str, Any]:
    with (DATA / name).open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


def _without_nulls(value: Any) -> Any:
    """``value`` without the null members of its objects. These descriptions mark few fields
    nullable, yet their own examples answer null for every package not asked (Lookup's
    ``caller_name: null``, a line type's ``carrier_name: null``): a null is what Twilio sends
    for what it does not know, and every value that is there is checked."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def assert_valid_product_response(
    spec: str, path: str, method: str, status: int, body: Any
) -> None:
    """Assert ``body`` is what ``spec`` (e.g. twilio_verify_v2.json) documents for the
    operation at ``path`` (its template) and ``status``."""
    document = _spec(spec)
    operation = document["paths"][path][method.lower()]
    response = operation["responses"][str(status)]
    schema = response["content"]["application/json"]["schema"]
    components = {
        name: _to_json_schema(sub)
        for name, sub in document.get("components", {}).get("schemas", {}).items()
    }
    root = {"allOf": [_to_json_schema(schema)], "components": {"schemas": components}}
    validator = Draft4Validator(root, format_checker=_format_checker())
    errors = validator.iter_errors(_without_nulls(body))
    problems = sorted(f"{e.json_path}: {e.message}" for e in errors)
    assert problems == [], f"{method} {path} -> {status}: {problems}"
