"""Helpers for the console's browser tests: a sandbox process, the CLI, Debian's Chromium."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import REPOSITORY

CHROMIUM = Path(os.environ.get("TWILIO_COMPONENT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = REPOSITORY / "tests" / "vendor" / "axe-core" / "axe.min.js"
ARTIFACTS = REPOSITORY / "test-artifacts"
OWN = "+15005550006"


def chromium_or_fail() -> Path:
    """Debian's Chromium; a clear failure (never a skip) when it is not installed."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"the console's browser tests need Chromium at {CHROMIUM}: install Debian's "
            "package (apt-get install chromium; .ci/run does it when run as root). "
            "These tests are not skipped.",
            pytrace=False,
        )
    return CHROMIUM


@dataclass(frozen=True)
class Served:
    """A `twilio-component sandbox` process, as its first JSON line describes it."""

    base_url: str
    account_sid: str
    auth_token: str
    console_url: str
    process: subprocess.Popen[str] | None = field(default=None, compare=False, repr=False)

    @property
    def env(self) -> dict[str, str]:
        """The environment that points `twilio-component send` at this sandbox."""
        return {
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_API_BASE_URL": self.base_url,
        }

    @property
    def messages_url(self) -> str:
        """The Messages API list/create URL of its account."""
        return f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    def control(self, method: str, path: str, payload: Any = None) -> requests.Response:
        """A control API call with the account's Basic auth."""
        return requests.request(
            method,
            f"{self.base_url}/_sandbox/{path}",
            json=payload,
            auth=(self.account_sid, self.auth_token),
            timeout=10,
        )

    def listed(self, **filters: str) -> list[dict[str, Any]]:
        """The Messages API's list (newest first), with To/From filters."""
        response = requests.get(
            self.messages_url,
            params=filters,
            auth=(self.account_sid, self.auth_token),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages

    def create(self, to: str, body: str) -> dict[str, Any]:
        """Send one message through the Messages API (not the CLI)."""
        response = requests.post(
            self.messages_url,
            data={"To": to, "From": OWN, "Body": body},
            auth=(self.account_sid, self.auth_token),
            timeout=10,
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


@contextmanager
def sandbox_process(*extra: str) -> Iterator[Served]:
    """Run ``python -m twilio_component sandbox`` and read its first JSON line."""
    child = subprocess.Popen(
        [sys.executable, "-m", "twilio_component", "sandbox", *extra],
        stdout=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")},
    )
    try:
        assert child.stdout is not None
        first = json.loads(child.stdout.readline())
        yield Served(
            first["base_url"],
            first["account_sid"],
            first["auth_token"],
            first["console_url"],
            process=child,
        )
    finally:
        child.terminate()
        child.wait(timeout=10)


def send(served: Served, to: str, body: str) -> subprocess.CompletedProcess[str]:
    """``twilio-component send`` to the sandbox, as a person would run it."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
    argv = ["send", "--to", to, "--from", OWN, "--body", body]
    return subprocess.run(
        [sys.executable, "-m", "twilio_component", *argv],
        capture_output=True,
        text=True,
        env={**base, **served.env},
        timeout=60,
        check=False,
    )
