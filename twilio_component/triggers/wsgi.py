"""A WSGI application (PEP 3333) that receives every trigger of a host, for any web framework.

Mounted at a path, it answers ``POST {mount}/{component}/v{N}/{trigger}`` (and GET, which
Twilio may be told to use) by handing the request to ``Host.receive`` and the new events to a
callback. Signatures cover the URL the service called, so the app must know it: by default it
is rebuilt from the request (scheme, Host header, mount path, path, query); behind a proxy or a
tunnel give ``public_url`` (the public origin and mount, e.g. ``https://hooks.example.com/sms``).
Forwarded headers (X-Forwarded-Proto, X-Forwarded-Host) are trusted only with
``trust_forwarded=True``, since anyone can send them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from twilio_component.errors import ComponentError
from twilio_component.triggers.protocol import WebhookAnswer, WebhookRequest

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from twilio_component.host import Host

__all__ = ["MAX_BODY", "TriggerApp"]

log = logging.getLogger(__name__)

#: The largest webhook body read (Twilio's are a few kilobytes); larger ones are refused (413).
MAX_BODY = 1 << 20
#: Called with the trigger type and the new events of one request (none when duplicates);
#: what it returns, when not None, is answered instead of the trigger's own answer.
OnEvents = Callable[[str, tuple[dict[str, Any], ...]], "WebhookAnswer | None"]

_REASONS = {200: "OK", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed"}


class TriggerApp:
    """The WSGI application: one route per trigger type of the host.

    ``connections`` maps a component's name or type to the connection that verifies its
    webhooks (Twilio's needs the Auth Token). ``routes`` maps a path to a trigger type; by
    default every trigger is at ``/{trigger type}``, e.g. ``/twilio/v1/newIncomingSMS``.
    ``parameters`` maps a path to its trigger's parameters, when they are known: a genuine
    webhook about another number than the trigger's is then refused (403).
    ``on_events`` runs in the request's thread before the answer is sent; hand long work to a
    queue there (Twilio waits at most 15 seconds and then retries, which is deduplicated).
    """

    def __init__(
        self,
        host: Host,
        *,
        connections: Mapping[str, Mapping[str, Any]],
        on_events: OnEvents,
        public_url: str | None = None,
        trust_forwarded: bool = False,
        routes: Mapping[str, str] | None = None,
        parameters: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.host = host
        self.on_events = on_events
        self.public_url = public_url.rstrip("/") if public_url else None
        self.trust_forwarded = trust_forwarded
        self.routes = (
            dict(routes) if routes is not None else {f"/{t}": t for t in host.trigger_types}
        )
        #: Each route's trigger parameters, when known (a webhook for another number is
        #: refused); by path.
        self.parameters = dict(parameters or {})
        self._connections: dict[str, Mapping[str, Any]] = {}
        for path, trigger_type in self.routes.items():
            descriptor = host.component_of_trigger(trigger_type).descriptor
            connection = connections.get(descriptor.name, connections.get(descriptor.type))
            if connection is None:
                raise ComponentError(
                    f"no connection given for component {descriptor.name}, whose trigger "
                    f"{trigger_type} is mounted at {path}"
                )
            self._connections[path] = connection

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        trigger_type = self.routes.get(path)
        if trigger_type is None:
            return _answer(start_response, 404, b"no trigger here\n")
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method not in ("POST", "GET"):
            return _answer(start_response, 405, b"POST (or GET) only\n", Allow="POST, GET")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            return _answer(start_response, 413, b"the body is too large for a webhook\n")
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if "CONTENT_TYPE" in environ:
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        request = WebhookRequest(method, self._public(environ), headers, body)
        try:
            received = self.host.receive(
                trigger_type,
                request,
                connection=self._connections[path],
                parameters=self.parameters.get(path),
            )
        except ComponentError as error:
            log.error("%s: cannot receive: %s", trigger_type, error)
            return _answer(start_response, 500, b"the receiver is misconfigured\n")
        answer = received.answer
        if received.events:
            answer = self.on_events(trigger_type, received.events) or answer
        return _answer(start_response, answer.status, answer.body, **dict(answer.headers))

    def _public(self, environ: WSGIEnvironment) -> str:
        """The URL the service called: the configured public URL, or the request's own."""
        query = str(environ.get("QUERY_STRING", ""))
        tail = str(environ.get("PATH_INFO", "")) + (f"?{query}" if query else "")
        if self.public_url is not None:
            return self.public_url + tail
        scheme = environ.get("wsgi.url_scheme", "http")
        host = environ.get("HTTP_HOST") or (
            f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
        )
        if self.trust_forwarded:
            scheme = _first(environ.get("HTTP_X_FORWARDED_PROTO")) or scheme
            host = _first(environ.get("HTTP_X_FORWARDED_HOST")) or host
        return f"{scheme}://{host}{environ.get('SCRIPT_NAME', '')}{tail}"


def _first(value: str | None) -> str | None:
    """The first of a comma-separated header's values (the client-side proxy's)."""
    return value.split(",")[0].strip() or None if value else None


def _answer(start_response: StartResponse, status: int, body: bytes, **headers: str) -> list[bytes]:
    reason = _REASONS.get(status, "Error" if status >= 400 else "OK")
    fields = {"Content-Type": "text/plain; charset=utf-8", **headers}
    fields["Content-Length"] = str(len(body))
    start_response(f"{status} {reason}", list(fields.items()))
    return [body]
