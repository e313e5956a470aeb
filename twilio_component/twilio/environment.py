"""The Twilio connection read from the environment, by the names Twilio's own SDKs use."""

from __future__ import annotations

from collections.abc import Mapping

from twilio_component.component import EnvironmentConnection
from twilio_component.errors import ConnectionConfigError, Problem

__all__ = ["FROM_ENVIRONMENT", "VARIABLES", "connection_from_environment", "twilio_environment"]

#: Where each connection property is read, by authorization.
FROM_ENVIRONMENT = {
    "basic_auth": {"username": "TWILIO_ACCOUNT_SID", "password": "TWILIO_AUTH_TOKEN"},
    "api_key": {
        "accountSid": "TWILIO_ACCOUNT_SID",
        "apiKeySid": "TWILIO_API_KEY",
        "apiKeySecret": "TWILIO_API_SECRET",
    },
}
#: The environment variable each connection property comes from.
VARIABLES = {k: v for names in FROM_ENVIRONMENT.values() for k, v in names.items()}


def _read(environ: Mapping[str, str], authorization: str) -> dict[str, str]:
    return {
        prop: environ.get(variable, "")
        for prop, variable in FROM_ENVIRONMENT[authorization].items()
    }


def connection_from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The connection TWILIO_* describe: the Auth Token's, or an API key's (never both);
    ConnectionConfigError naming each variable that is missing or in the way."""
    basic = _read(environ, "basic_auth")
    key = _read(environ, "api_key")
    if basic["password"] and (key["apiKeySid"] or key["apiKeySecret"]):
        given = " and ".join(n for n in ("TWILIO_API_KEY", "TWILIO_API_SECRET") if environ.get(n))
        raise ConnectionConfigError(
            [
                Problem(
                    "TWILIO_AUTH_TOKEN",
                    f"is set together with {given}; unset one of the two ways to sign in "
                    "so it is clear which credentials are used",
                )
            ]
        )
    if not basic["password"] and key["apiKeySid"] and key["apiKeySecret"]:
        return {"authorization": "api_key", **key}
    problems = []
    if not basic["username"]:
        problems.append(Problem("TWILIO_ACCOUNT_SID", "is not set (or use --sandbox)"))
    if not basic["password"] and (key["apiKeySid"] or key["apiKeySecret"]):
        missing = "apiKeySecret" if key["apiKeySid"] else "apiKeySid"
        problems.append(
            Problem(
                VARIABLES[missing],
                "is not set; an API key needs both TWILIO_API_KEY and its secret",
            )
        )
    elif not basic["password"]:
        problems.append(
            Problem(
                "TWILIO_AUTH_TOKEN",
                "is not set (or TWILIO_API_KEY and TWILIO_API_SECRET; or use --sandbox)",
            )
        )
    if problems:
        raise ConnectionConfigError(problems)
    return basic


def twilio_environment() -> EnvironmentConnection:
    """How the CLI and workers find the Twilio connection in their environment."""
    return EnvironmentConnection(read=connection_from_environment, variables=VARIABLES)
