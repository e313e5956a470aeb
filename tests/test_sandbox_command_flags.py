"""``twilio-component sandbox`` refuses an Account SID or Auth Token it could not serve, naming
the flag (exit 2), and never echoes a token."""

from __future__ import annotations

import pytest
from conftest import Cli


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (("--account-sid", "XX"), "--account-sid"),
        (("--account-sid", "AC" + "g" * 32), "--account-sid"),
        (("--auth-token", ""), "--auth-token"),
        (("--auth-token", " secret-with-spaces-around "), "--auth-token"),
    ],
)
def test_a_sandbox_it_could_not_serve_is_refused_naming_the_flag(
    cli: Cli, argv: tuple[str, str], named: str
) -> None:
    result = cli("sandbox", *argv)
    assert result.code == 2
    assert f"argument {named}" in result.err
    assert "secret-with-spaces-around" not in result.err
