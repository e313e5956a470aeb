"""The reference page generated from the descriptor: the seed page, byte for byte, and beyond."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from openapi import DATA

from twilio_component.describe import reference_page, render
from twilio_component.descriptor import load_descriptor, parse_descriptor
from twilio_component.reference_page import pretty_json
from twilio_component.resources import read_text

SEED = DATA / "twilio_v1.md"

API_KEY = {
    "name": "api_key",
    "title": "API Key",
    "properties": [
        {
            "name": "accountSid",
            "label": "Account SID",
            "type": "STRING",
            "description": "The Account SID the key belongs to.",
            "required": True,
        },
        {
            "name": "apiKey",
            "label": "API Key SID",
            "type": "STRING",
            "description": "The SID of an API key (SK…).",
            "required": True,
        },
        {
            "name": "apiSecret",
            "label": "API Key Secret",
            "type": "STRING",
            "description": "The secret shown once when the key was made.",
            "required": True,
            "secret": True,
        },
    ],
}

SEND_MESSAGE_PROPERTIES: list[dict[str, Any]] = [
    {
        "name": "To",
        "label": "To",
        "type": "STRING",
        "description": "The recipient.",
        "required": True,
    },
    {
        "name": "MediaUrl",
        "label": "Media URL",
        "type": "ARRAY",
        "items": {"type": "STRING", "format": "uri"},
        "description": "Media to attach | at most 10.",
    },
    {
        "name": "SmartEncoded",
        "label": "Smart Encoded",
        "type": "BOOLEAN",
        "description": "Replace look-alike characters.",
        "advancedOption": True,
    },
    {
        "name": "ValidityPeriod",
        "label": "Validity Period",
        "type": "INTEGER",
        "description": "Seconds the message may wait in the queue.",
    },
    {
        "name": "SendAt",
        "label": "Send At",
        "type": "DATE_TIME",
        "description": "When to send a scheduled message.",
    },
    {
        "name": "ContentRetention",
        "label": "Content Retention",
        "type": "STRING",
        "options": ["retain", "discard"],
        "description": "Whether Twilio keeps the body.",
    },
]

SEND_MESSAGE_TABLE = """\
#### Properties

|      Name       |      Label     |     Type     |     Description     | Required |
|:---------------:|:--------------:|:------------:|:-------------------:|:--------:|
| To | To | STRING | The recipient. | true |
| MediaUrl | Media URL | ARRAY <details> <summary> Items </summary> [STRING] </details> \
| Media to attach \\| at most 10. | false |
| SmartEncoded | Smart Encoded | BOOLEAN <details> <summary> Options </summary> true, false \
</details> | Replace look-alike characters. | false |
| ValidityPeriod | Validity Period | INTEGER | Seconds the message may wait in the queue. | false |
| SendAt | Send At | DATE_TIME | When to send a scheduled message. | false |
| ContentRetention | Content Retention | STRING <details> <summary> Options </summary> retain, \
discard </details> | Whether Twilio keeps the body. | false |

#### Example JSON Structure
```json
{
  "label" : "Send Message",
  "name" : "sendMessage",
  "parameters" : {
    "To" : "",
    "MediaUrl" : [ "" ],
    "SmartEncoded" : false,
    "ValidityPeriod" : 1,
    "SendAt" : "2021-01-01T00:00:00",
    "ContentRetention" : ""
  },
  "type" : "twilio/v1/sendMessage"
}
```
"""


@pytest.fixture(scope="module")
def seed() -> str:
    return SEED.read_text(encoding="utf-8")


def seed_raw() -> dict[str, Any]:
    """component.yaml cut down to what the seed page documents: basic_auth and sendSMS."""
    raw: dict[str, Any] = copy.deepcopy(yaml.safe_load(read_text("component.yaml")))
    connection = raw["connection"]
    connection["authorizations"] = [
        a for a in connection["authorizations"] if a["name"] == "basic_auth"
    ]
    raw["actions"] = [a for a in raw["actions"] if a["name"] == "sendSMS"]
    raw.pop("triggers", None)
    return raw


def extended_raw() -> dict[str, Any]:
    """The seed's descriptor plus a small api_key authorization and sendMessage action."""
    raw = seed_raw()
    raw["connection"]["authorizations"].append(API_KEY)
    raw["actions"].append(
        {
            "name": "sendMessage",
            "title": "Send Message",
            "description": "Send an SMS, MMS or WhatsApp message",
            "properties": SEND_MESSAGE_PROPERTIES,
            "output": raw["actions"][0]["output"],
        }
    )
    return raw


def section(page: str, start: str, end: str) -> str:
    """The text of ``page`` from ``start`` up to and including the first ``end`` after it."""
    begin = page.index(start)
    return page[begin : page.index(end, begin) + len(end)]


def test_generated_page_is_the_seed_byte_for_byte(seed: str) -> None:
    page = reference_page(parse_descriptor(seed_raw()))
    assert page.splitlines() == seed.splitlines()
    assert page == seed


TRIGGERS = "<hr />\n\n\n\n## Triggers\n\n"


def test_shipped_page_is_the_seed_with_api_key_and_send_message_inserted(seed: str) -> None:
    page = reference_page(load_descriptor(read_text("component.yaml")))
    page = page[: page.index(TRIGGERS)] + "\n\n\n"
    api_key = re.search(r"### API Key\n.*?\n\| apiKeySecret [^\n]*\n\n\n\n", page, re.DOTALL)
    assert api_key is not None
    send_message = page[page.index("\n### Send Message\nName: sendMessage\n") + 1 :]
    assert send_message.endswith("```\n\n\n\n\n")
    assert '"type" : "twilio/v1/sendMessage"' in send_message
    # The seed ends its only action with five newlines; the inserted action now ends the page.
    without = page.replace(api_key.group(0), "", 1).replace(send_message[:-2], "", 1)
    assert without == seed


def test_every_heading_table_row_and_json_block_of_the_seed_is_generated(seed: str) -> None:
    page = render("markdown")
    assert isinstance(page, str)
    lines = set(page.splitlines())
    wanted = [line for line in seed.splitlines() if line.startswith(("#", "|"))]
    assert len(wanted) == 41
    assert [line for line in wanted if line not in lines] == []
    blocks = re.findall(r"```json\n(.*?)\n```", seed, flags=re.DOTALL)
    assert len(blocks) == 2
    assert all(block in page for block in blocks)


def test_a_second_authorization_follows_the_first_in_the_same_style(seed: str) -> None:
    page = reference_page(parse_descriptor(extended_raw()))
    last_row = (
        "| password | Auth Token | STRING | The Auth Token from your Twilio account. | true |\n"
    )
    basic = section(seed, "\n### Basic Auth", last_row)
    assert basic + "\n\n\n### API Key\n\n#### Properties\n\n" in page
    api_key = section(page, "\n### API Key", "\n<hr />")
    assert api_key.endswith(
        "| apiSecret | API Key Secret | STRING | The secret shown once when the key was made. "
        "| true |\n\n\n\n\n\n<hr />"
    )
    assert page.count("Version: 1") == 1


def test_a_second_action_follows_send_sms_which_stays_exactly_as_on_the_seed(seed: str) -> None:
    page = reference_page(parse_descriptor(extended_raw()))
    send_sms = section(seed, "\n### Send SMS", '"subresourceUris" : { }\n}\n```\n')
    assert send_sms + "\n\n### Send Message\nName: sendMessage\n" in page
    send_message = page[page.index("\n### Send Message") :]
    assert "Send an SMS, MMS or WhatsApp message\n\n" + SEND_MESSAGE_TABLE in send_message
    assert send_message.endswith('"subresourceUris" : { }\n}\n```\n\n\n\n\n')


def test_the_page_follows_a_change_to_the_descriptor() -> None:
    raw = copy.deepcopy(yaml.safe_load(read_text("component.yaml")))
    raw["actions"][0]["properties"][2]["required"] = False
    raw["actions"][0]["output"]["properties"][0]["description"] = "What was sent."
    page = reference_page(parse_descriptor(raw))
    assert "the send_as_mms parameter. | false |\n" in page
    assert "| body | STRING | What was sent. |\n" in page


def test_output_arrays_and_nested_objects_are_described_inline() -> None:
    raw = copy.deepcopy(yaml.safe_load(read_text("component.yaml")))
    raw["actions"][0]["output"]["properties"] = [
        {"name": "tags", "type": "ARRAY"},
        {
            "name": "media",
            "type": "OBJECT",
            "properties": [
                {"name": "count", "type": "INTEGER"},
                {"name": "ok", "type": "BOOLEAN"},
                {
                    "name": "inner",
                    "type": "OBJECT",
                    "properties": [{"name": "x", "type": "NUMBER"}],
                },
            ],
        },
    ]
    page = reference_page(parse_descriptor(raw))
    assert "| tags | ARRAY <details> <summary> Items </summary> [] </details> |  |\n" in page
    assert (
        "| media | OBJECT <details> <summary> Properties </summary> "
        "{INTEGER\\(count), BOOLEAN\\(ok), {NUMBER\\(x)}\\(inner)} </details> |  |\n"
    ) in page
    assert '"tags" : [ ],\n  "media" : {\n    "count" : 1,\n    "ok" : false,\n' in page
    assert '"inner" : {\n      "x" : 0.0\n    }\n  }\n}' in page


def test_pretty_json_lays_out_like_jackson() -> None:
    value = {"a": {}, "b": [], "c": [{"d": 1}], "e": ["", 0.0], "f": {"g": None}}
    assert pretty_json(value) == (
        "{\n"
        '  "a" : { },\n'
        '  "b" : [ ],\n'
        '  "c" : [ {\n'
        '    "d" : 1\n'
        "  } ],\n"
        '  "e" : [ "", 0.0 ],\n'
        '  "f" : {\n'
        '    "g" : null\n'
        "  }\n"
        "}"
    )


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_pretty_json_reads_back_as_the_same_value(value: Any) -> None:
    assert json.loads(pretty_json(value)) == value


def test_cli_prints_the_page() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "twilio_component", "describe", "--format", "markdown"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == render("markdown")
    assert done.stdout.startswith(SEED.read_text(encoding="utf-8")[:300])


def test_the_shipped_page_ends_with_a_triggers_section_in_the_actions_style() -> None:
    page = reference_page(load_descriptor(read_text("component.yaml")))
    triggers = page[page.index(TRIGGERS) :]
    assert page.count(TRIGGERS) == 1
    assert "\n### New Incoming SMS\nName: newIncomingSMS\n\nType: DYNAMIC_WEBHOOK\n" in triggers
    assert "\n### Message Status Changed\nName: messageStatus\n\nType: STATIC_WEBHOOK\n" in triggers
    assert "| PhoneNumber | Phone Number | STRING |" in triggers
    assert '"type" : "twilio/v1/newIncomingSMS"' in triggers
    assert "| messageSid | STRING |" in triggers
    assert triggers.endswith("```\n\n\n\n\n")
