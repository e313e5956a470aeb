"""The Twilio component's settings: the API address and reconciliation, beside the host's."""

from __future__ import annotations

from dataclasses import dataclass, fields

from twilio_component.errors import ConnectionConfigError, Problem
from twilio_component.settings import HostSettings, _check_seconds


@dataclass(frozen=True, slots=True)
class Settings(HostSettings):
    """Options of a Host that runs the Twilio component (``twilio_component.Settings``).

    Everything of HostSettings (timeouts, retry policy, strict output, environment), and:

    ``base_url``: the API root. None means: from ``TWILIO_API_BASE_URL`` / ``TWILIO_REGION`` /
    ``TWILIO_EDGE`` in ``environ`` (``os.environ`` when None), else ``https://api.twilio.com``.
    Only https leaves the machine: plain http is refused unless the host is loopback.

    ``reconcile`` (default off): after an unknown outcome, look the message up in Twilio's
    message log (by To, From, the time of the attempt and the body) and return it when
    exactly one matches, instead of failing. It never sends again. When the first lookup
    finds nothing, it looks once more after ``reconcile_delay`` seconds (default 1), in case
    Twilio was still storing the message.
    """

    base_url: str | None = None
    reconcile: bool = False
    reconcile_delay: float = 1.0

    def __post_init__(self) -> None:
        HostSettings.__post_init__(self)
        if self.base_url is not None and not isinstance(self.base_url, str):
            raise ConnectionConfigError(
                [Problem("base_url", f"must be the API root as text, not {self.base_url!r}")]
            )
        _check_seconds("reconcile_delay", self.reconcile_delay, allow_zero=True)

    @classmethod
    def of(cls, settings: HostSettings) -> Settings:
        """``settings`` as Twilio settings: itself, or the host's options with our defaults."""
        if isinstance(settings, cls):
            return settings
        shared = {f.name: getattr(settings, f.name) for f in fields(HostSettings)}
        return cls(**shared)
