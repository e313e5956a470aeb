"""The Celery app: late acks, no prefetch, JSON messages, and a visibility timeout past any send."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping

from celery import Celery

__all__ = [
    "BROKER_VARIABLE",
    "CONNECTIONS_VARIABLE",
    "DEFAULT_BROKER",
    "JOURNAL_VARIABLE",
    "QUEUE",
    "VISIBILITY_TIMEOUT",
    "app",
    "make_app",
]

#: Where a worker started by plain ``celery -A twilio_component.distributed worker`` finds its
#: broker and its journal (``twilio-component worker --broker … --journal …`` sets them).
BROKER_VARIABLE = "TWILIO_COMPONENT_BROKER"
JOURNAL_VARIABLE = "TWILIO_COMPONENT_JOURNAL"
#: Where a worker finds the connection files of its components: a JSON object mapping a
#: component's name (or type) to the path of a JSON file holding its connection.
CONNECTIONS_VARIABLE = "TWILIO_COMPONENT_CONNECTIONS"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
#: The queue every task of ours goes to.
QUEUE = "twilio-component"
#: Seconds a delivered but unacknowledged task stays invisible to other workers before Redis
#: hands it out again: far past the longest send (30 s read timeout, one attempt per delivery)
#: and the longest countdown a task asks for (60 s), so a task still running is never doubled.
#: A task of a killed worker comes back after it, or at once with ``campaign resume``.
VISIBILITY_TIMEOUT = 1800


def make_app(broker: str | None = None, environ: Mapping[str, str] | None = None) -> Celery:
    """A Celery app for our tasks; its broker is ``broker``, else $TWILIO_COMPONENT_BROKER."""
    environ = os.environ if environ is None else environ
    url = broker or environ.get(BROKER_VARIABLE) or DEFAULT_BROKER
    celery = Celery("twilio_component", broker=url, include=["twilio_component.distributed.tasks"])
    celery.conf.update(
        # A task is acknowledged when it ends, so one cut off (killed worker, lost connection)
        # is delivered again; the journal makes the second delivery send nothing twice.
        task_acks_late=True,
        # ...and a worker process killed mid-task does not count as done either.
        task_reject_on_worker_lost=True,
        # One task at a time per slot: a killed worker holds no backlog hostage.
        worker_prefetch_multiplier=1,
        # JSON only: steps, outputs and outcomes are plain data; no pickle from the broker.
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # Outcomes live in the journal; no result backend is needed.
        task_ignore_result=True,
        task_default_queue=QUEUE,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        # A message the worker cannot run is dropped with one log line and the worker goes on
        # (distributed.messages): Celery's consumer with quieter hooks for such messages, and
        # Kombu's Redis transport handing a body that does not decode to them.
        worker_consumer="twilio_component.distributed.messages:Consumer",
        broker_transport="twilio_component.distributed.transport:Transport",
        broker_connection_retry_on_startup=True,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        enable_utc=True,
    )
    if url.partition("://")[0] == "rediss":
        # Kombu turns TLS on for a rediss:// URL when the URL's scheme picks the transport;
        # broker_transport picks ours, so TLS is asked for here, as Kombu does it: no
        # certificate check unless the URL asks for one (?ssl_cert_reqs=required).
        celery.conf.broker_use_ssl = {"ssl_cert_reqs": ssl.CERT_NONE}
    return celery


#: The app ``celery -A twilio_component.distributed`` finds.
app = make_app()
