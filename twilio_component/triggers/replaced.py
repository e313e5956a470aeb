"""What a listener replaced when it enabled its trigger, kept on disk until it is put back, so
that a listener killed before restoring (SIGKILL, a crash, a power cut) is finished by the next
one instead of losing the original webhook for good."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["STATE_VARIABLE", "Replaced", "state_folder"]

#: Where the files are kept, when set; else $XDG_STATE_HOME/twilio-component, else
#: ~/.local/state/twilio-component.
STATE_VARIABLE = "TWILIO_COMPONENT_STATE"


def state_folder(environ: Mapping[str, str] | None = None) -> Path:
    """The folder of this user's listener state files."""
    environ = os.environ if environ is None else environ
    if environ.get(STATE_VARIABLE):
        return Path(environ[STATE_VARIABLE])
    base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "twilio-component"


class Replaced:
    """The record of one trigger's replaced webhook: the URL it was pointed at and what
    disabling puts back. Its file is named by a digest of the trigger, its parameters and the
    connection's non-secret values (never a secret, never a value in clear)."""

    def __init__(self, folder: Path, identity: Mapping[str, Any]) -> None:
        digest = hashlib.sha256(
            json.dumps(identity, sort_keys=True, default=str).encode("utf-8")
        ).hexdigest()[:32]
        self.path = folder / f"listen-{digest}.json"

    def read(self) -> tuple[str, dict[str, Any]] | None:
        """The webhook URL and the state to put back, when a listener left them."""
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(saved, dict) or not isinstance(saved.get("state"), dict):
            return None
        return str(saved.get("webhook_url", "")), saved["state"]

    def write(self, webhook_url: str, state: Mapping[str, Any]) -> None:
        """Keep them, durably (written whole, then renamed into place)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = self.path.with_suffix(".partial")
        with partial.open("w", encoding="utf-8") as file:
            json.dump({"webhook_url": webhook_url, "state": dict(state)}, file)
            file.flush()
            os.fsync(file.fileno())
        partial.replace(self.path)

    def forget(self) -> None:
        """Nothing is left to put back."""
        self.path.unlink(missing_ok=True)
