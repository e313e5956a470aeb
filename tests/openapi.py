"""Test helper: checks payloads against Twilio's official OpenAPI description of API v2010."""

import email.utils
import functools
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, FormatChecker
from jsonschema.exceptions import ValidationError

SPEC_ENV = "TWILIO_OPENAPI_SPEC"
#: Files the tests read, shipped in the repository (a plain clone has nothing beside it).
DATA = Path(__file__).resolve().parent / "data"
MESSAGES_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
MESSAGE_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json"
MESSAGE_SCHEMA = "api.v2010.account.message"
CREATE_MESSAGE_REQUEST = "CreateMessageRequest"
ERROR_DOCS = "https://www.twilio.com/docs/errors/"

# Keywords whose value is a map of names to sub-schemas, or a sub-schema, or a list of them.
_SCHEMA_MAPS = ("properties", "patternProperties")
_SCHEMA_ONE = ("items", "additionalProperties", "not")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
# OpenAPI-only keywords with no meaning to a JSON Schema validator.
_DROPPED = {"nullable", "example", "examples", "discriminator", "xml", "externalDocs"}

# The error body Twilio documents, for when the spec carries no error schema of its own.
_FALLBACK_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message", "more_info", "status"],
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string", "minLength": 1},
        "more_info": {"type": "string", "pattern": "^https://"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
    },
    "additionalProperties": False,
}


def spec_path() -> Path:
    """Where the spec is: $TWILIO_OPENAPI_SPEC, else the copy in tests/data (MIT, twilio-oai)."""
    override = os.environ.get(SPEC_ENV)
    if override:
        return Path(override)
    return DATA / "twilio_api_v2010.json"


@functools.cache
def load_spec() -> dict[str, Any]:
    """The parsed OpenAPI document (read once)."""
    with spec_path().open(encoding="utf-8") as handle:
        spec: dict[str, Any] = json.load(handle)
    return spec


def _to_json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema object rewritten as plain JSON Schema (draft 4)."""
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        converted: dict[str, Any] = {"$ref": node["$ref"]}
    else:
        converted = {}
        for key, value in node.items():
            if key in _DROPPED or key.startswith("x-") or key == "description":
                continue
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                converted[key] = {name: _to_json_schema(sub) for name, sub in value.items()}
            elif key in _SCHEMA_ONE:
                converted[key] = _to_json_schema(value)
            elif key in _SCHEMA_LISTS and isinstance(value, list):
                converted[key] = [_to_json_schema(sub) for sub in value]
            else:
                converted[key] = value
    if node.get("nullable") is True:
        if isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        else:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


@functools.cache
def _components() -> dict[str, Any]:
    schemas = load_spec().get("components", {}).get("schemas", {})
    return {name: _to_json_schema(schema) for name, schema in schemas.items()}


def _check_rfc2822(value: object) -> bool:
    """Twilio's dates: RFC 2822 in GMT, e.g. "Thu, 30 Jul 2015 20:12:31 +0000"."""
    if not isinstance(value, str):
        return True
    parsed = email.utils.parsedate_to_datetime(value)
    if email.utils.format_datetime(parsed) != value or not value.endswith(" +0000"):
        raise ValueError(f"{value!r} is not an RFC 2822 GMT date like Twilio's")
    return True


def _check_iso_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return datetime.fromisoformat(value).tzinfo is not None


def _check_currency(value: object) -> bool:
    return not isinstance(value, str) or re.fullmatch("[A-Z]{3}", value) is not None


def _format_checker() -> FormatChecker:
    """Checks for the formats that matter here; others (phone-number, uri-map...) are ignored."""
    checker = FormatChecker(formats=())
    checker.checks("date-time-rfc-2822", raises=(ValueError, TypeError))(_check_rfc2822)
    checker.checks("date-time", raises=ValueError)(_check_iso_datetime)
    checker.checks("currency")(_check_currency)
    return checker


def _problems(schema: Any, instance: Any) -> list[str]:
    """Every way `instance` breaks `schema` (an OpenAPI schema), each with its JSON path."""
    root = {"allOf": [_to_json_schema(schema)], "components": {"schemas": _components()}}
    validator = Draft4Validator(root, format_checker=_format_checker())
    errors: Iterable[ValidationError] = validator.iter_errors(instance)
    return sorted(f"{error.json_path}: {error.message}" for error in errors)


def _fail(what: str, problems: Sequence[str]) -> None:
    if problems:
        listing = "\n".join(f"  - {problem}" for problem in problems)
        raise AssertionError(f"{what}: {len(problems)} problem(s)\n{listing}")


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a local $ref to components.schemas."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        resolved: Mapping[str, Any] = load_spec()["components"]["schemas"][ref.rsplit("/", 1)[1]]
        return resolved
    return schema


def assert_valid_response(path: str, method: str, status: int, body: Any) -> None:
    """Assert `body` is what the spec documents for this operation and status.

    `path` is the spec's path template, e.g. MESSAGES_PATH.
    """
    what = f"{method.upper()} {path} -> {status}"
    operation = load_spec()["paths"].get(path, {}).get(method.lower())
    if operation is None:
        raise AssertionError(f"{method.upper()} {path} is not an operation in the spec")
    response = operation.get("responses", {}).get(str(status))
    if response is None:
        documented = ", ".join(operation.get("responses", {}))
        raise AssertionError(f"{what}: status not documented (documented: {documented})")
    content = response.get("content", {}).get("application/json")
    if content is None:
        _fail(what, [] if body in (None, "", b"") else ["the spec documents no body here"])
        return
    _fail(what, _problems(content["schema"], body))


def create_message_operation() -> dict[str, Any]:
    """The spec's POST Messages.json operation (CreateMessage)."""
    operation: dict[str, Any] = load_spec()["paths"][MESSAGES_PATH]["post"]
    return operation


def create_message_schema() -> dict[str, Any]:
    """The CreateMessageRequest schema of POST Messages.json."""
    body = create_message_operation()["requestBody"]
    schema: dict[str, Any] = body["content"]["application/x-www-form-urlencoded"]["schema"]
    assert schema.get("title") == CREATE_MESSAGE_REQUEST
    return schema


def _form_value(name: str, schema: Mapping[str, Any], raw: str) -> tuple[Any, str | None]:
    """A form string typed as the schema says, or a problem saying why it cannot be."""
    kind = _resolve(schema).get("type")
    if raw == "":
        return raw, f"$.{name}: sent empty (absent values must be left out)"
    if kind == "boolean":
        if raw in ("true", "false"):
            return raw == "true", None
        return raw, f"$.{name}: {raw!r} is not 'true' or 'false'"
    if kind == "integer":
        if re.fullmatch("-?[0-9]+", raw):
            return int(raw), None
        return raw, f"$.{name}: {raw!r} is not a decimal integer"
    if kind == "number":
        if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", raw):
            return float(raw), None
        return raw, f"$.{name}: {raw!r} is not a decimal number"
    return raw, None


def _conditional_problems(schema: Mapping[str, Any], present: set[str]) -> list[str]:
    """The operation's x-twilio.conditional: each group needs at least one of its parameters."""
    by_key = {key.replace("_", "").lower(): key for key in schema.get("properties", {})}
    problems = []
    for group in create_message_operation().get("x-twilio", {}).get("conditional", []):
        names = [by_key.get(item.replace("_", "").lower(), item) for item in group]
        if not present.intersection(names):
            problems.append(f"$: one of {', '.join(names)} is required")
    return problems


def assert_valid_create_form(form: Mapping[str, Sequence[str] | str]) -> None:
    """Assert a decoded x-www-form-urlencoded body is a valid CreateMessageRequest.

    `form` maps each key to its values in order (a repeated key gives several).
    """
    schema = create_message_schema()
    properties: Mapping[str, Any] = schema.get("properties", {})
    problems: list[str] = []
    typed: dict[str, Any] = {}
    for name, given in form.items():
        values = [given] if isinstance(given, str) else list(given)
        prop = properties.get(name)
        if prop is None:
            problems.append(f"$.{name}: not a parameter of {CREATE_MESSAGE_REQUEST}")
            continue
        if not values:
            problems.append(f"$.{name}: key present with no value")
            continue
        if _resolve(prop).get("type") == "array":
            items = [_form_value(name, prop.get("items", {}), value) for value in values]
            problems.extend(problem for _, problem in items if problem)
            typed[name] = [item for item, problem in items if not problem]
            continue
        if len(values) > 1:
            problems.append(f"$.{name}: sent {len(values)} times but is not a list")
        value, problem = _form_value(name, prop, values[0])
        if problem:
            problems.append(problem)
        else:
            typed[name] = value
    problems.extend(_problems(schema, typed))
    problems.extend(_conditional_problems(schema, set(form)))
    _fail(f"{CREATE_MESSAGE_REQUEST} form", sorted(set(problems)))


def error_schema() -> dict[str, Any]:
    """The spec's own error schema if it has one, else the shape Twilio documents."""
    wanted = {"code", "message", "more_info", "status"}
    for schema in load_spec().get("components", {}).get("schemas", {}).values():
        if isinstance(schema, dict) and wanted <= set(schema.get("properties", {})):
            found: dict[str, Any] = schema
            return found
    return _FALLBACK_ERROR_SCHEMA


def assert_valid_error(body: Any, status: int) -> None:
    """Assert `body` is a Twilio error body for an HTTP `status` response."""
    problems = _problems(error_schema(), body)
    if isinstance(body, dict):
        if body.get("status") != status:
            problems.append(f"$.status: {body.get('status')!r} is not the HTTP status {status}")
        code = body.get("code")
        if isinstance(code, int) and body.get("more_info") != f"{ERROR_DOCS}{code}":
            problems.append(f"$.more_info: {body.get('more_info')!r} is not {ERROR_DOCS}{code}")
    _fail(f"error body for HTTP {status}", problems)
