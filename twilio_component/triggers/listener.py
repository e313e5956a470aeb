"""The Listener: a workflow's trigger enabled, probed, served over HTTP and restored; the
workflow run once per event.

The server (``triggers.server``) is the standard library's WSGI server with a thread per
connection: real HTTP/1.x, concurrent webhooks, and no dependency beyond the core's four. Each
event's workflow runs in the request's thread before the service gets
its answer, so a reply is sent by the time the webhook returns; a retry of a slow webhook is
deduplicated, never run twice.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlsplit

from twilio_component.component import Component
from twilio_component.errors import ComponentError, StepError, TriggerConflictError
from twilio_component.host import Host
from twilio_component.triggers.protocol import WebhookAnswer, WebhookRequest
from twilio_component.triggers.replaced import Replaced, state_folder
from twilio_component.triggers.wsgi import TriggerApp
from twilio_component.workflow import Workflow, WorkflowFailed

__all__ = ["Listener", "Restored", "origin", "webhook_path"]


@dataclass(frozen=True, slots=True)
class Restored:
    """How putting a webhook back went: ``ok`` when it is as it should be, and one line
    saying what happened."""

    ok: bool
    message: str


class Listener:
    """A workflow with a trigger, served: checked whole up front, then one run per event."""

    def __init__(
        self,
        host: Host,
        workflow: Mapping[str, Any],
        connection_for: Callable[[Component], Mapping[str, Any]],
        out: TextIO,
        redact: Callable[[str], str],
    ) -> None:
        self.host = host
        self.workflow = Workflow(workflow, host, trigger="required")
        assert self.workflow.trigger_type is not None
        self.trigger_type: str = self.workflow.trigger_type
        self.parameters: dict[str, Any] = self.workflow.trigger_parameters
        receiver = host.component_of_trigger(self.trigger_type)
        used = {c.descriptor.name: c for c in map(host.component_of, self.workflow.step_types)}
        used[receiver.descriptor.name] = receiver
        self.connections = {name: connection_for(c) for name, c in used.items()}
        self.trigger_connection = self.connections[receiver.descriptor.name]
        self._execute = host.executor(self.connections, self.workflow.step_types)
        self._answering = host.answering(self.trigger_type)
        self._replaced = Replaced(state_folder(), self._identity(receiver))
        self.out = out
        self.redact = redact
        self._lock = threading.Lock()
        self._enabled: tuple[str, dict[str, Any]] | None = None

    @property
    def registers(self) -> bool:
        """Whether serving this trigger means pointing the service at it (a dynamic webhook)."""
        return self.host.trigger_of(self.trigger_type).type == "DYNAMIC_WEBHOOK"

    def probe(self, url: str) -> None:
        """Before serving: the trigger can verify with this connection (an unsigned request is
        refused), so nothing is registered that would then answer every webhook with an error.
        StepError when it accepts an unsigned request."""
        probe = WebhookRequest("POST", url, {"Content-Type": "application/x-www-form-urlencoded"})
        received = self.host.receive(self.trigger_type, probe, connection=self.trigger_connection)
        if received.answer.status != 403 or received.events:
            raise StepError(f"{self.trigger_type}: it accepts unsigned requests; not serving it")

    def _identity(self, receiver: Component) -> dict[str, Any]:
        """What names this trigger's webhook: its type, parameters and the connection's
        non-secret values (which account)."""
        secret = receiver.descriptor.secret_properties
        account = {k: v for k, v in self.trigger_connection.items() if k not in secret}
        return {"trigger": self.trigger_type, "parameters": self.parameters, "account": account}

    def enable(self, webhook_url: str, *, take_over: bool = False) -> str | None:
        """Point the service at ``webhook_url`` (TriggerConflictError when another URL is set
        and not ``take_over``); ``restore`` puts back what was there. What it replaced is kept
        on disk until then. A webhook an earlier listener of this trigger replaced and never
        put back (it was killed) is put back first; what was done about it is returned."""
        earlier = self._finish_earlier()
        state = self.host.enable_trigger(
            self.trigger_type,
            self.parameters,
            connection=self.trigger_connection,
            webhook_url=webhook_url,
            take_over=take_over,
        )
        self._enabled = (webhook_url, state)
        self._replaced.write(webhook_url, state)
        return earlier

    @property
    def _where(self) -> str:
        """How its messages name this trigger."""
        return f"listen: {self.trigger_type} {json.dumps(self.parameters)}"

    def _put_back(self, webhook_url: str, state: dict[str, Any]) -> None:
        """Disable the trigger: ``state`` back where ``webhook_url`` is set (compare-and-set)."""
        self.host.disable_trigger(
            self.trigger_type,
            self.parameters,
            connection=self.trigger_connection,
            webhook_url=webhook_url,
            state=state,
        )

    def _finish_earlier(self) -> str | None:
        """Put back what a listener stopped before restoring had replaced, unless the webhook
        was changed since; a line saying what was done, or None when there was nothing."""
        saved = self._replaced.read()
        if saved is None:
            return None
        webhook_url, state = saved
        where = self._where
        try:
            self._put_back(webhook_url, state)
        except TriggerConflictError as changed:
            said = (
                f"{where}: an earlier listener stopped before putting its webhook back, and it "
                f"was changed since to {changed.current}; left as it is."
            )
        else:
            said = f"{where}: put back the webhook an earlier listener had replaced."
        self._replaced.forget()
        return said

    def restore(self) -> Restored | None:
        """Put back what ``enable`` replaced, unless someone changed it since; None when
        nothing was enabled."""
        if self._enabled is None:
            return None
        webhook_url, state = self._enabled
        where = self._where
        try:
            self._put_back(webhook_url, state)
        except TriggerConflictError as changed:
            self._replaced.forget()
            return Restored(
                True,
                f"{where}: its webhook was changed to {changed.current} while listening; "
                "left as it is.",
            )
        except ComponentError as error:  # kept on disk: the next listen puts it back
            return Restored(
                False,
                f"{where}: its webhook could not be put back ({str(error).splitlines()[0]}); it "
                f"still points at {webhook_url}. Set it back by hand to what it was: "
                f"{json.dumps(state)} (or run listen again: it puts it back first)",
            )
        finally:
            self._enabled = None
        self._replaced.forget()
        return Restored(True, f"{where}: the webhook it replaced is back.")

    def run(self, event: Mapping[str, Any]) -> WebhookAnswer | None:
        """Run the workflow for one event and print one JSON line with what it did; the
        workflow's answer to the webhook, when it has one and ran to the end."""
        line: dict[str, Any] = {"event": self.host.receipt(self.trigger_type, event)}
        done = None
        try:
            done = self.workflow.run(self._execute, event=event, answering=self._answering)
        except WorkflowFailed as failure:
            line.update(failure.run.as_json())
            line["error"] = f"task {failure.task!r} failed: {failure.error}"
        except ComponentError as error:
            line["error"] = str(error)
        else:
            line.update(done.as_json())
        self.print(line)
        return done.answer if done is not None else None

    def print(self, document: Mapping[str, Any], *, masked: bool = True) -> None:
        """One JSON line on stdout, whole even when runs overlap; secrets masked unless
        ``masked`` is False (the sandbox's own credentials, printed for its clients)."""
        text = json.dumps(document, ensure_ascii=False)
        with self._lock:
            self.out.write((self.redact(text) if masked else text) + "\n")
            self.out.flush()

    def app(self, public_url: str | None, path: str, trust_forwarded: bool) -> TriggerApp:
        """The WSGI application serving this trigger at ``path``."""
        component = self.host.component_of_trigger(self.trigger_type).descriptor.name

        def on_events(
            trigger_type: str, events: tuple[dict[str, Any], ...]
        ) -> WebhookAnswer | None:
            answers = [self.run(event) for event in events]
            return answers[-1] if answers else None

        return TriggerApp(
            self.host,
            connections={component: self.trigger_connection},
            on_events=on_events,
            public_url=public_url,
            trust_forwarded=trust_forwarded,
            routes={path: self.trigger_type},
            parameters={path: self.parameters},
        )


def webhook_path(trigger_type: str, public_url: str | None) -> str:
    """Where the webhook is served: the public URL's path, else ``/{trigger type}``."""
    if public_url is None:
        return f"/{trigger_type}"
    return urlsplit(public_url).path or "/"


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
