"""A third-party component for the tests, written with twilio_component's public names only."""
