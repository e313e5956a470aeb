"""Specification of the pytest plugin: `twilio_sandbox` is a running sandbox, stopped after use."""

from __future__ import annotations

import sys

import pytest
import requests

from twilio_component.sandbox import Sandbox

pytest_plugins = ("pytester",)


def test_twilio_sandbox_fixture_is_a_running_sandbox(twilio_sandbox: Sandbox) -> None:
    response = requests.post(
        f"{twilio_sandbox.base_url}/2010-04-01/Accounts/{twilio_sandbox.account_sid}/Messages.json",
        data={"To": "+15558675310", "From": "+15005550006", "Body": "from the fixture"},
        auth=(twilio_sandbox.account_sid, twilio_sandbox.auth_token),
        timeout=5,
    )
    assert response.status_code == 201
    twilio_sandbox.settle()
    assert [m["status"] for m in twilio_sandbox.messages] == ["delivered"]


def test_twilio_sandbox_fixture_is_stopped_after_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest, requests

        seen = []

        def test_uses_it(twilio_sandbox):
            seen.append(twilio_sandbox.base_url)

        def test_it_is_gone():
            with pytest.raises(requests.ConnectionError):
                requests.get(seen[0], timeout=2)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_plugin_module_does_not_import_the_sandbox_at_load(pytester: pytest.Pytester) -> None:
    script = (
        "import sys, twilio_component.testing\nprint('twilio_component.sandbox' in sys.modules)\n"
    )
    result = pytester.run(sys.executable, "-c", script)
    assert result.outlines[-1] == "False"
