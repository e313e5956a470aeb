"""The WSGI application that receives a host's triggers (``twilio_component.wsgi.TriggerApp``).

It lives in ``twilio_component.triggers.wsgi``; this path stays for the code that imports it.
"""

from __future__ import annotations

from twilio_component.triggers.wsgi import MAX_BODY, TriggerApp

__all__ = ["MAX_BODY", "TriggerApp"]
