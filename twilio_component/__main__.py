"""``python -m twilio_component``: the same command as ``twilio-component``."""

from twilio_component.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
