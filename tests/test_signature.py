"""Specification of X-Twilio-Signature computation and verification."""

import hashlib

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from twilio_component.twilio.signature import compute_signature, verify_signature

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="

tokens = st.text(min_size=1, max_size=40)
names = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12)
values = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)
param_dicts = st.dictionaries(names, values, max_size=6)


def test_twilio_published_vector_gives_the_published_signature() -> None:
    assert compute_signature(TOKEN, URL, PARAMS) == EXPECTED


def test_the_published_vector_verifies() -> None:
    assert verify_signature(TOKEN, EXPECTED, URL, PARAMS)


def test_a_tampered_parameter_is_rejected() -> None:
    assert not verify_signature(TOKEN, EXPECTED, URL, {**PARAMS, "Digits": "1235"})


def test_an_added_parameter_is_rejected() -> None:
    assert not verify_signature(TOKEN, EXPECTED, URL, {**PARAMS, "Extra": ""})


def test_a_tampered_url_is_rejected() -> None:
    assert not verify_signature(TOKEN, EXPECTED, URL.replace("foo=1", "foo=2"), PARAMS)


def test_a_tampered_signature_is_rejected() -> None:
    assert not verify_signature(TOKEN, "RSOYDt4T1cUTdK1PDd93/VVr8B9=", URL, PARAMS)


def test_a_different_token_is_rejected() -> None:
    assert not verify_signature("54321", EXPECTED, URL, PARAMS)


def test_a_non_ascii_signature_is_rejected_without_error() -> None:
    assert not verify_signature(TOKEN, "RSOYDt4T1cUTdK1PDd93/VVr8B8\u00e9", URL, PARAMS)


def test_parameter_order_does_not_matter() -> None:
    reversed_params = dict(reversed(list(PARAMS.items())))
    assert compute_signature(TOKEN, URL, reversed_params) == EXPECTED


def test_a_list_value_signs_each_value_in_sorted_order() -> None:
    url = "https://example.com/hook"
    as_list = compute_signature(TOKEN, url, {"MediaUrl": ["https://b", "https://a"]})
    by_hand = compute_signature(TOKEN, url + "MediaUrlhttps://aMediaUrlhttps://b")
    assert as_list == by_hand


def test_no_parameters_signs_the_url_alone() -> None:
    assert compute_signature(TOKEN, URL) == compute_signature(TOKEN, URL, {})


@pytest.mark.parametrize(
    ("signed_url", "received_url"),
    [
        ("https://example.com/hook?x=1", "https://example.com:443/hook?x=1"),
        ("https://example.com:443/hook?x=1", "https://example.com/hook?x=1"),
        ("http://example.com/hook", "http://example.com:80/hook"),
        ("http://example.com:80/hook", "http://example.com/hook"),
    ],
)
def test_the_default_port_may_be_present_or_absent(signed_url: str, received_url: str) -> None:
    signature = compute_signature(TOKEN, signed_url, PARAMS)
    assert verify_signature(TOKEN, signature, received_url, PARAMS)


def test_a_non_default_port_is_part_of_the_url() -> None:
    signature = compute_signature(TOKEN, "https://example.com:8443/hook", PARAMS)
    assert not verify_signature(TOKEN, signature, "https://example.com/hook", PARAMS)


def json_webhook(body: bytes) -> tuple[str, str]:
    url = "https://example.com/hook?bodySHA256=" + hashlib.sha256(body).hexdigest()
    return url, compute_signature(TOKEN, url)


def test_a_json_body_verifies_against_its_hash_in_the_url() -> None:
    body = b'{"event":"delivered"}'
    url, signature = json_webhook(body)
    assert verify_signature(TOKEN, signature, url, body=body)
    assert verify_signature(TOKEN, signature, url, body=body.decode())


def test_a_tampered_json_body_is_rejected() -> None:
    url, signature = json_webhook(b'{"event":"delivered"}')
    assert not verify_signature(TOKEN, signature, url, body=b'{"event":"failed"}')


def test_a_json_body_without_a_hash_in_the_url_is_rejected() -> None:
    url = "https://example.com/hook"
    assert not verify_signature(TOKEN, compute_signature(TOKEN, url), url, body=b"{}")


def test_a_json_body_agrees_with_the_official_validator() -> None:
    body = '{"event":"delivered"}'
    url, signature = json_webhook(body.encode())
    assert RequestValidator(TOKEN).validate(url, body, signature)


def test_errors_never_reveal_the_token() -> None:
    with pytest.raises(ValueError, match="Auth Token") as raised:
        compute_signature("", URL)
    assert TOKEN not in str(raised.value)


@given(
    tokens, st.sampled_from([URL, "http://localhost:8080/in", "https://x.io/a?b=c"]), param_dicts
)
def test_a_computed_signature_verifies(token: str, url: str, params: dict[str, str]) -> None:
    assert verify_signature(token, compute_signature(token, url, params), url, params)


@given(tokens, param_dicts, values)
def test_changing_any_one_value_breaks_the_signature(
    token: str, params: dict[str, str], new_value: str
) -> None:
    assume(params)
    name = sorted(params)[0]
    assume(new_value != params[name])
    signature = compute_signature(token, URL, params)
    assert not verify_signature(token, signature, URL, {**params, name: new_value})


@given(tokens, param_dicts)
def test_signatures_match_the_official_sdk(token: str, params: dict[str, str]) -> None:
    assert compute_signature(token, URL, params) == RequestValidator(token).compute_signature(
        URL, params
    )
