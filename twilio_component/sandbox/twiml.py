"""Messaging TwiML a webhook answers: the ``<Message>`` verbs of a ``<Response>``, read safely."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final
from xml.parsers import expat

__all__ = ["PARSE_FAILURE", "TwimlError", "TwimlMessage", "is_twiml", "read_messages"]

PARSE_FAILURE: Final = 12100
"""Twilio's Document parse failure: not well-formed XML, or no ``<Response>`` root (FACTS)."""
TWIML_TYPES: Final = frozenset({"text/xml", "application/xml", "text/html"})
"""Content types Twilio reads as TwiML (FACTS: "text/xml, application/xml or text/html")."""


class TwimlError(ValueError):
    """TwiML that cannot be acted on: Twilio's error code and why."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class TwimlMessage:
    """One ``<Message>`` verb: its text, media and ``to``/``from`` attributes (None: not given)."""

    body: str
    media: tuple[str, ...] = ()
    to: str | None = None
    from_: str | None = None


@dataclass(slots=True)
class _Element:
    tag: str
    attributes: dict[str, str]
    children: list[_Element] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    """The element's own character data (between its children included)."""

    def own_text(self) -> str:
        return "".join(self.text).strip()


def is_twiml(content_type: str | None) -> bool:
    """Whether an answer of this Content-Type is read as TwiML."""
    media_type = (content_type or "").partition(";")[0].strip().lower()
    return media_type in TWIML_TYPES


def read_messages(document: str) -> list[TwimlMessage]:
    """The ``<Message>`` verbs of a TwiML document, in order; TwimlError (12100) when the
    document is not well-formed XML or its root is not ``<Response>``.

    A ``<Message>`` holds its text directly or in ``<Body>`` nouns, and ``<Media>`` nouns.
    Other verbs (``<Redirect>``…) are not acted on. Names are case-sensitive, as Twilio's are.
    """
    root = _parse(document)
    if root.tag != "Response":
        raise TwimlError(PARSE_FAILURE, f"the root element is <{root.tag[:32]}>, not <Response>")
    messages = []
    for verb in root.children:
        if verb.tag != "Message":
            continue
        bodies = [noun.own_text() for noun in verb.children if noun.tag == "Body"]
        media = tuple(noun.own_text() for noun in verb.children if noun.tag == "Media")
        body = "".join(bodies) if bodies else verb.own_text()
        messages.append(
            TwimlMessage(body, media, verb.attributes.get("to"), verb.attributes.get("from"))
        )
    return messages


def _parse(document: str) -> _Element:
    """The document's root element; no DTD is read, so no entity can expand or reach out."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_Element] = []
    roots: list[_Element] = []

    def refuse_doctype(*_: object) -> None:
        raise TwimlError(PARSE_FAILURE, "a DOCTYPE declaration is not allowed in TwiML")

    def start(tag: str, attributes: dict[str, str]) -> None:
        element = _Element(tag, attributes)
        (stack[-1].children if stack else roots).append(element)
        stack.append(element)

    def end(_tag: str) -> None:
        stack.pop()

    def text(data: str) -> None:
        if stack:
            stack[-1].text.append(data)

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(document, True)
    except expat.ExpatError as error:
        where = f"line {error.lineno}, column {error.offset}"
        reason = expat.ErrorString(error.code) if error.code is not None else str(error)
        raise TwimlError(PARSE_FAILURE, f"not well-formed XML ({reason}, {where})") from None
    return roots[0]
