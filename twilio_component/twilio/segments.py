"""SMS segment arithmetic: GSM-7 / UCS-2 encoding choice, segment counts and Smart Encoding."""

import re
from dataclasses import dataclass
from typing import Any, Literal

Encoding = Literal["GSM-7", "UCS-2"]

#: GSM 03.38 basic character table (one septet each).
GSM_BASIC: frozenset[str] = frozenset(
    "\n\r !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
    "¡£¤¥§¿ÄÅÆÉÑÖØÜßàäåæÇèéìñòöøùüΓΔΘΛΞΠΣΦΨΩ"
)
#: GSM 03.38 extension table: each costs an escape septet plus its own (two septets).
GSM_EXTENSION: frozenset[str] = frozenset("\f[\\]^{|}~€")
GSM_CHARACTERS: frozenset[str] = GSM_BASIC | GSM_EXTENSION

GSM_SINGLE_SEPTETS = 160
GSM_SEGMENT_SEPTETS = 153
UCS2_SINGLE_UNITS = 70
UCS2_SEGMENT_UNITS = 67

#: Look-alike Unicode characters and the GSM-7 text that Smart Encoding puts in their place.
SMART_ENCODING_REPLACEMENTS: dict[str, str] = {
    # double quotes and guillemets
    "\u00ab": '"',  # left-pointing double angle quotation mark
    "\u00bb": '"',  # right-pointing double angle quotation mark
    "\u2039": "<",  # single left-pointing angle quotation mark
    "\u203a": ">",  # single right-pointing angle quotation mark
    "\u201c": '"',  # left double quotation mark
    "\u201d": '"',  # right double quotation mark
    "\u201e": '"',  # double low-9 quotation mark
    "\u201f": '"',  # double high-reversed-9 quotation mark
    "\u2033": '"',  # double prime
    "\u2036": '"',  # reversed double prime
    "\u02ba": '"',  # modifier double prime
    "\u02ee": '"',  # modifier double apostrophe
    "\u275d": '"',  # heavy double turned comma quotation mark ornament
    "\u275e": '"',  # heavy double comma quotation mark ornament
    "\u301d": '"',  # reversed double prime quotation mark
    "\u301e": '"',  # double prime quotation mark
    "\uff02": '"',  # fullwidth quotation mark
    # single quotes, apostrophes and primes
    "\u2018": "'",  # left single quotation mark
    "\u2019": "'",  # right single quotation mark
    "\u201a": "'",  # low single quote
    "\u201b": "'",  # single high-reversed-9 quotation mark
    "\u2032": "'",  # prime
    "\u2035": "'",  # reversed prime
    "\u00b4": "'",  # acute accent
    "`": "'",  # backtick is not in GSM-7
    "\u02b9": "'",  # modifier prime
    "\u02bb": "'",  # modifier letter turned comma
    "\u02bc": "'",  # modifier letter apostrophe
    "\u02bd": "'",  # modifier letter reversed comma
    "\u02c8": "'",  # modifier letter vertical line
    "\u02ca": "'",  # modifier letter acute accent
    "\u02cb": "'",  # modifier letter grave accent
    "\u275b": "'",  # heavy single turned comma quotation mark ornament
    "\u275c": "'",  # heavy single comma quotation mark ornament
    "\uff07": "'",  # fullwidth apostrophe
    # dashes, hyphens, minus signs and bullets
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "-",  # figure dash
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2015": "-",  # horizontal bar
    "\u2043": "-",  # hyphen bullet
    "\u2212": "-",  # minus sign
    "\u2796": "-",  # heavy minus
    "\ufe58": "-",  # small em dash
    "\ufe63": "-",  # small hyphen-minus
    "\uff0d": "-",  # fullwidth hyphen-minus
    "\u2022": "-",  # bullet
    "\u2023": "-",  # triangular bullet
    # ellipsis and dots
    "\u2026": "...",  # horizontal ellipsis
    "\u2024": ".",  # one dot leader
    "\u2025": "..",  # two dot leader
    "\uff0e": ".",  # fullwidth full stop
    "\u3002": ".",  # ideographic full stop
    # spaces
    "\u00a0": " ",  # no-break space
    "\u1680": " ",  # ogham space mark
    "\u2000": " ",  # en quad
    "\u2001": " ",  # em quad
    "\u2002": " ",  # en space
    "\u2003": " ",  # em space
    "\u2004": " ",  # three-per-em space
    "\u2005": " ",  # four-per-em space
    "\u2006": " ",  # six-per-em space
    "\u2007": " ",  # figure space
    "\u2008": " ",  # punctuation space
    "\u2009": " ",  # thin space
    "\u200a": " ",  # hair space
    "\u202f": " ",  # narrow no-break space
    "\u205f": " ",  # medium mathematical space
    "\u3000": " ",  # ideographic space
    "\t": " ",  # tab is not in GSM-7
    # invisible characters vanish
    "\u200b": "",  # zero width space
    "\u00ad": "",  # soft hyphen
    "\u200c": "",  # zero width non-joiner
    "\u200d": "",  # zero width joiner
    "\u2060": "",  # word joiner
    "\ufeff": "",  # zero width no-break space (byte order mark)
    # fractions and division
    "\u00bc": "1/4",
    "\u00bd": "1/2",
    "\u00be": "3/4",
    "\u00f7": "/",  # division sign
    "\u2044": "/",  # fraction slash
    "\u2215": "/",  # division slash
    # fullwidth ASCII punctuation
    "\uff01": "!",
    "\uff03": "#",
    "\uff04": "$",
    "\uff05": "%",
    "\uff06": "&",
    "\uff08": "(",
    "\uff09": ")",
    "\uff0a": "*",
    "\uff0b": "+",
    "\uff0c": ",",
    "\uff0f": "/",
    "\uff1a": ":",
    "\uff1b": ";",
    "\uff1c": "<",
    "\uff1d": "=",
    "\uff1e": ">",
    "\uff1f": "?",
    "\uff20": "@",
    "\uff3f": "_",
    "\uff3b": "[",
    "\uff3c": "\\",
    "\uff3d": "]",
    "\uff5b": "{",
    "\uff5c": "|",
    "\uff5d": "}",
    "\uff5e": "~",
    # other look-alikes
    "\u01c3": "!",  # retroflex click
    "\u2217": "*",  # asterisk operator
    "\u2223": "|",  # divides
    "\u02c6": "^",  # modifier circumflex
    "\u02dc": "~",  # small tilde
    "\u2016": "||",  # double vertical line
}

_NON_GSM = re.compile("[^" + re.escape("".join(sorted(GSM_CHARACTERS))) + "]")
_ESCAPE = "\x1b"


@dataclass(frozen=True, slots=True)
class Segments:
    """How an SMS body is encoded and how many segments it is billed as."""

    encoding: Encoding
    segments: int
    """SMS segments billed; an empty body counts as 1."""
    units: int
    """Septets (GSM-7, extension characters count 2) or UTF-16 code units (UCS-2)."""
    unicode_characters: tuple[str, ...]
    """Distinct characters that forced UCS-2, in order of first appearance."""


def _gsm_segments(body: str) -> tuple[int, int]:
    """(segments, septets) of a body made only of GSM-7 characters."""
    septets = body
    for char in GSM_EXTENSION:
        if char in septets:
            septets = septets.replace(char, _ESCAPE + char)
    units = len(septets)
    if units <= GSM_SINGLE_SEPTETS:
        return 1, units
    segments = start = 0
    while start < units:
        end = start + GSM_SEGMENT_SEPTETS
        if end < units and septets[end - 1] == _ESCAPE:
            end -= 1  # an escape pair never straddles two segments
        start = end
        segments += 1
    return segments, units


def _ucs2_segments(body: str) -> tuple[int, int]:
    """(segments, UTF-16 code units) of any body."""
    encoded = body.encode("utf-16-le", "surrogatepass")
    units = len(encoded) // 2
    if units <= UCS2_SINGLE_UNITS:
        return 1, units
    segments = start = 0
    while start < units:
        end = start + UCS2_SEGMENT_UNITS
        # A high surrogate followed by a low one is a pair that moves whole.
        if (
            end < units
            and 0xD8 <= encoded[2 * end - 1] <= 0xDB
            and 0xDC <= encoded[2 * end + 1] <= 0xDF
        ):
            end -= 1
        start = end
        segments += 1
    return segments, units


def count_segments(body: str) -> Segments:
    """Encoding, segment count and units of `body`, by the GSM 03.38 / UCS-2 rules."""
    foreign = _NON_GSM.findall(body)
    if not foreign:
        segments, units = _gsm_segments(body)
        return Segments("GSM-7", segments, units, ())
    segments, units = _ucs2_segments(body)
    return Segments("UCS-2", segments, units, tuple(dict.fromkeys(foreign)))


def smart_encode(body: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Replace look-alike characters by GSM-7 text, as Twilio's Smart Encoding does.

    Returns the new body and the distinct (original, replacement) pairs applied, in order of
    first appearance.
    """
    applied = tuple(
        (char, SMART_ENCODING_REPLACEMENTS[char])
        for char in dict.fromkeys(_NON_GSM.findall(body))
        if char in SMART_ENCODING_REPLACEMENTS
    )
    for char, replacement in applied:
        body = body.replace(char, replacement)
    return body, applied


def estimate(body: str, *, smart_encoding: bool = False) -> dict[str, Any]:
    """A JSON-ready description of how `body` would be sent and what Smart Encoding would change.

    With `smart_encoding` the top-level figures describe the body after replacement.
    """
    encoded_body, replacements = smart_encode(body)
    original = count_segments(body)
    encoded = count_segments(encoded_body) if replacements else original
    sent_body, sent = (encoded_body, encoded) if smart_encoding else (body, original)
    return {
        "encoding": sent.encoding,
        "segments": sent.segments,
        "characters": len(sent_body),
        "units": sent.units,
        "unicode_characters": list(sent.unicode_characters),
        "smart_encoding": {
            "applied": smart_encoding,
            "body": encoded_body,
            "encoding": encoded.encoding,
            "segments": encoded.segments,
            "replacements": [
                {"character": char, "replacement": replacement}
                for char, replacement in replacements
            ],
            "unicode_characters": list(encoded.unicode_characters),
        },
    }
