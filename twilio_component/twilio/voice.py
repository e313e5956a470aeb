"""The call actions (makeCall, updateCall): TwiML checked and built, Twilio's Call to output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

from twilio_component.component import Invocation
from twilio_component.errors import Problem
from twilio_component.twilio.messages import client_and_plan, credentials, encode_form
from twilio_component.twilio.output import to_output

__all__ = ["TWIML_LIMIT", "make_call", "spoken_twiml", "twiml_problem", "update_call"]

#: The most characters Twilio takes in a call's inline ``Twiml``.
TWIML_LIMIT: Final = 4000
#: Parameters of makeCall that the component turns into TwiML rather than sending.
_SPOKEN: Final = ("Say", "Voice", "Language")


def twiml_problem(document: str) -> str | None:
    """Why ``document`` is not TwiML Twilio can run (well-formed XML, ``<Response>`` root), or
    None when it is. A document type declaration is refused (no entity can expand)."""
    parser = expat.ParserCreate()
    root: list[str] = []

    def start(name: str, _attributes: Mapping[str, str]) -> None:
        if not root:
            root.append(name)

    def doctype(*_: object) -> None:
        raise _Doctype

    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = doctype
    try:
        parser.Parse(document, True)
    except _Doctype:
        return "holds a document type declaration (<!DOCTYPE …>), which TwiML never needs"
    except expat.ExpatError as error:
        reason = expat.errors.messages[error.code] if error.code else str(error)
        return (
            f"is not well-formed XML ({reason} at line {error.lineno}, column "
            f"{error.offset + 1}); TwiML is an XML document such as "
            "<Response><Say>Hello</Say></Response>"
        )
    if root[0] != "Response":
        return (
            f"has <{root[0]}> as its root element; TwiML's root is <Response>, e.g. "
            "<Response><Say>Hello</Say></Response>"
        )
    return None


class _Doctype(Exception):
    """A document type declaration was met while parsing."""


def spoken_twiml(text: str, *, voice: str | None = None, language: str | None = None) -> str:
    """The TwiML that reads ``text`` aloud (in ``voice`` and ``language`` when given)."""
    attributes = "".join(
        f" {name}={quoteattr(value)}"
        for name, value in (("voice", voice), ("language", language))
        if value is not None
    )
    return f"<Response><Say{attributes}>{escape(text)}</Say></Response>"


def twiml_rule(parameters: Mapping[str, Any], rule: Mapping[str, Any]) -> list[Problem]:
    """The rule's parameters that are given must be TwiML Twilio can run."""
    problems = []
    for name in rule["parameters"]:
        value = parameters.get(name)
        if isinstance(value, str) and (reason := twiml_problem(value)) is not None:
            problems.append(Problem(name, reason))
    return problems


def spoken_rule(parameters: Mapping[str, Any], rule: Mapping[str, Any]) -> list[Problem]:
    """The TwiML built from Say (with Voice and Language) must fit Twilio's inline limit."""
    limit = int(rule.get("limit", TWIML_LIMIT))
    problems = []
    for name in rule["parameters"]:
        text = parameters.get(name)
        if not isinstance(text, str):
            continue
        voice, language = parameters.get("Voice"), parameters.get("Language")
        document = spoken_twiml(
            text,
            voice=voice if isinstance(voice, str) else None,
            language=language if isinstance(language, str) else None,
        )
        if twiml_problem(document) is not None:
            problems.append(
                Problem(name, "holds control characters, which spoken text cannot carry")
            )
        elif len(document) > limit:
            problems.append(
                Problem(
                    name,
                    f"makes TwiML of {len(document):,} characters, more than the {limit:,} "
                    "Twilio takes inline (<, > and & count as escapes); shorten the text",
                )
            )
    return problems


def phone_caller_id(parameters: Mapping[str, Any], rule: Mapping[str, Any]) -> list[Problem]:
    """When the callee (first parameter) is a phone number, the caller ID must be one too."""
    callee, caller = rule["parameters"]
    to, from_ = parameters.get(callee), parameters.get(caller)
    if not (isinstance(to, str) and isinstance(from_, str)):
        return []
    if to.startswith("+") and not from_.startswith("+"):
        reason = rule.get("message", f"must be a phone number when {callee} is one")
        return [Problem(caller, f"{from_!r} is not a phone number; {reason}")]
    return []


def call_form(invocation: Invocation) -> list[tuple[str, str]]:
    """Twilio's form for makeCall: Say (with Voice and Language) sent as Twiml."""
    parameters = dict(invocation.parameters)
    text = parameters.pop("Say", None)
    voice, language = (parameters.pop(name, None) for name in _SPOKEN[1:])
    if isinstance(text, str):
        parameters["Twiml"] = spoken_twiml(text, voice=voice, language=language)
    return encode_form(invocation.action, parameters)


def make_call(invocation: Invocation) -> dict[str, Any]:
    """Place one call and return the documented call output object (status queued).

    An answer that may mean the call exists is OutcomeUnknownError: never placed again.
    """
    client, plan = client_and_plan(invocation)
    resource = client.create_call(credentials(invocation.connection), call_form(invocation))
    return to_output(resource, plan)


def update_call(invocation: Invocation) -> dict[str, Any]:
    """Change a call (end it, give it new TwiML) and return its call output object."""
    client, plan = client_and_plan(invocation)
    parameters = dict(invocation.parameters)
    sid = str(parameters.pop("Sid"))
    form = encode_form(invocation.action, parameters)
    resource = client.update_call(credentials(invocation.connection), sid, form)
    return to_output(resource, plan)
