"""Twilio's Send SMS as a workflow step: a declarative component, a pluggy host and a sandbox."""

__version__ = "1.0.0"
