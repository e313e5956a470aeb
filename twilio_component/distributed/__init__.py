"""Keyed steps and campaigns on Celery workers: Redis carries them, the journal decides.

``pip install 'twilio-component[celery]'``; ``celery -A twilio_component.distributed worker``
(or ``twilio-component worker``) runs a worker.
"""

from __future__ import annotations

from twilio_component.distributed import tasks as _tasks  # registers the task on the app
from twilio_component.distributed.app import app, make_app
from twilio_component.distributed.tasks import Outcome, pace_of, run_step

__all__ = ["Outcome", "app", "make_app", "pace_of", "run_step"]

del _tasks
