"""The Sandbox: a Twilio Messages API on loopback, put together and run."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Any

from twilio_component.sandbox.admission import Admission
from twilio_component.sandbox.answers import Answer, AnswerLog
from twilio_component.sandbox.api import MessagesAPI, RecordedRequest
from twilio_component.sandbox.callbacks import CallbackDispatcher, CallbackRecord
from twilio_component.sandbox.clock import Clock, ManualClock, SystemClock
from twilio_component.sandbox.console import CONSOLE_PREFIX, ConsoleAccess, ConsolePages
from twilio_component.sandbox.control import ControlAPI, SandboxApp, armed_faults
from twilio_component.sandbox.events import EventHub
from twilio_component.sandbox.faults import Faults
from twilio_component.sandbox.inbound import Inbound, InboundMessage, parse_inbound
from twilio_component.sandbox.lifecycle import FINAL_STATUSES, Lifecycle
from twilio_component.sandbox.message_spec import MAGIC_SENDER
from twilio_component.sandbox.numbers import PhoneNumbers
from twilio_component.sandbox.optouts import OptOutList
from twilio_component.sandbox.products import Products
from twilio_component.sandbox.server import HTTPServer
from twilio_component.sandbox.store import MessageStore, StoredMessage
from twilio_component.sandbox.twiml import TwimlMessage
from twilio_component.sandbox.twiml_replies import ReplySender
from twilio_component.sandbox.verify import VerifyService
from twilio_component.sandbox.voice import Voice
from twilio_component.sandbox.webhooks import WebhookDelivery

__all__ = ["Sandbox"]

_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_API_KEY_SID = re.compile(r"SK[0-9a-fA-F]{32}")
_DELIVERY_ERROR = range(30000, 40000)

REAL_TIME_STEP = 0.03
"""Seconds between status steps on the real clock."""
MANUAL_STEP = 1.0
"""Seconds between status steps on a ManualClock."""


class Sandbox:
    """A local server that answers like Twilio's Messages API, for tests and offline runs.

    ``with Sandbox() as sandbox:`` starts it on a free loopback port; point any Twilio
    client at ``sandbox.base_url`` with ``sandbox.account_sid`` and ``sandbox.auth_token``.
    Messages move queued → sending → sent → delivered on their own (a step every
    `status_interval` seconds, default 0.03 s), or when a ManualClock passed as `clock` is
    advanced (default step 1 s). A recipient listed in `delivery_failures` ends
    `undelivered` with that 30xxx error code. Status callbacks go only to loopback URLs, and
    (as with Twilio) none is sent for a message's initial status. Besides the Messages API
    (create, fetch, list, update, delete, media) it serves the Account and the
    IncomingPhoneNumbers of its own numbers (+15005550006 and `numbers`);
    `phone_number()` reads a number's configuration (``sms_url``…).

    Messages also arrive: `receive()` (or ``POST /_sandbox/inbound``) stores an inbound
    message and POSTs Twilio's signed webhook to the number's SmsUrl (loopback only), then to
    its SmsFallbackUrl when that fails; each ``<Message>`` of the TwiML answered is sent as an
    ``outbound-reply`` message. A message one sandbox number sends another is received the
    same way once delivered. The control API under ``/_sandbox/`` (same Basic auth) also
    reads back and clears messages, arms faults, lists webhook deliveries and API answers,
    and streams what happens as server-sent events; `console_url` shows it all live. `latency`
    delays every API answer; `max_concurrent` answers a create 429 (20429) while more API
    requests are in flight.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        account_sid: str | None = None,
        auth_token: str | None = None,
        numbers: Iterable[str] = (),
        message_cap: int = 10_000,
        clock: Clock | None = None,
        delivery_failures: Mapping[str, int] | None = None,
        callback_timeout: float = 5.0,
        status_interval: float | None = None,
        latency: float = 0.0,
        max_concurrent: int | None = None,
    ) -> None:
        if account_sid is None:
            account_sid = "AC" + os.urandom(16).hex()
        elif not _ACCOUNT_SID.fullmatch(account_sid):
            raise ValueError(f"account_sid must match AC + 32 hex digits, not {account_sid!r}")
        if auth_token is None:
            auth_token = os.urandom(16).hex()
        elif not auth_token:
            raise ValueError("auth_token must not be empty")
        failures = dict(delivery_failures or {})
        for number, code in failures.items():
            if code not in _DELIVERY_ERROR:
                raise ValueError(
                    f"delivery_failures[{number!r}] must be a 30xxx code, not {code!r}"
                )
        self._host = host
        self._port = port
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._clock: Clock = clock if clock is not None else SystemClock()
        if status_interval is None:
            status_interval = MANUAL_STEP if isinstance(clock, ManualClock) else REAL_TIME_STEP
        if status_interval <= 0:
            raise ValueError(f"status_interval must be positive, not {status_interval!r}")
        self._admission = Admission(latency=latency, max_concurrent=max_concurrent)
        own_numbers = [MAGIC_SENDER, *numbers]
        self._callbacks = CallbackDispatcher(auth_token=auth_token, timeout=callback_timeout)
        self._events = EventHub()
        self._console_access = ConsoleAccess()
        self._answers = AnswerLog(observer=self._answered)
        self._store = MessageStore(message_cap)
        self._store.observe(self._message_changed)
        self._numbers = PhoneNumbers(
            account_sid=account_sid, numbers=own_numbers, created=self._clock.now()
        )
        self._lifecycle = Lifecycle(
            store=self._store,
            clock=self._clock,
            interval=timedelta(seconds=status_interval),
            sender=own_numbers[-1] if len(own_numbers) > 1 else MAGIC_SENDER,
            notify=self._callbacks.send,
            arrived=self._arrived,
        )
        self.faults = Faults()
        self.faults.observe(self._faults_changed)
        replies = ReplySender(
            account_sid=account_sid,
            store=self._store,
            lifecycle=self._lifecycle,
            numbers=self._numbers,
            clock=self._clock,
            failure_code=lambda to: (
                self.faults.delivery_failure(to) or failures.get(to.rpartition(":")[2])
            ),
        )
        self._optouts = OptOutList()
        self._inbound = Inbound(
            account_sid=account_sid,
            auth_token=auth_token,
            store=self._store,
            numbers=self._numbers,
            clock=self._clock,
            timeout=callback_timeout,
            replies=replies,
            optouts=self._optouts,
        )
        self._verify = VerifyService(
            account_sid=account_sid,
            clock=self._clock,
            deliver=lambda to, body: replies.send(
                {}, TwimlMessage(body, to=to, from_=MAGIC_SENDER)
            ),
            speak=lambda to, twiml: self._voice.calls.place(to=to, from_=MAGIC_SENDER, twiml=twiml),
            changed=lambda: self._events.publish("verifications", self._verification_list),
        )
        products = Products(self._verify)
        self._voice = Voice(
            account_sid=account_sid,
            auth_token=auth_token,
            numbers=self._numbers,
            now=self._clock.now,
            send_callback=self._callbacks.send,
            timeout=callback_timeout,
            events=self._events,
        )
        self._api = MessagesAPI(
            account_sid=account_sid,
            auth_token=auth_token,
            own_numbers=own_numbers,
            store=self._store,
            numbers=self._numbers,
            lifecycle=self._lifecycle,
            clock=self._clock,
            faults=self.faults,
            delivery_failures=failures,
            admission=self._admission,
            answers=self._answers,
            products=products,
            optouts=self._optouts,
            calls=self._voice.calls,
        )
        self._control = ControlAPI(
            authenticate=self._api.authenticate,
            inbound=self._inbound,
            store=self._store,
            faults=self.faults,
            forget_messages=self._forget_messages,
            access=self._console_access,
            events=self._events,
            answers=self._answers,
            reset=self.reset,
            numbers=self._numbers,
            more=lambda method, path, body: (
                self._voice.control(method, path, body) or products.control(method, path, body)
            ),
        )
        self._server: HTTPServer | None = None
        self._serving: threading.Thread | None = None
        self._stopped = threading.Event()
        self._state_lock = threading.Lock()

    def __repr__(self) -> str:
        where = self.base_url if self._server is not None else "not started"
        return f"Sandbox(account_sid={self._account_sid!r}, base_url={where!r})"

    # -- identity ---------------------------------------------------------------------------

    @property
    def account_sid(self) -> str:
        """The account this sandbox serves (``AC`` + 32 hex digits)."""
        return self._account_sid

    @property
    def auth_token(self) -> str:
        """The account's auth token (password of Basic auth; key of callback signatures)."""
        return self._auth_token

    @property
    def connection(self) -> dict[str, str]:
        """The component connection for this sandbox: ``{"username", "password"}``."""
        return {"username": self._account_sid, "password": self._auth_token}

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` of the running server (the API root, like api.twilio.com)."""
        if self._server is None:
            raise RuntimeError("the sandbox is not started: call start() or use it in a with")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._server.port}"

    @property
    def console_url(self) -> str:
        """The web console's address: ``{base_url}/_console/?token=…``.

        The token is random for each sandbox and is not the Auth Token; without it the page
        answers 401. Keep it to yourself as you would the Auth Token: it opens the control API.
        """
        return f"{self.base_url}{CONSOLE_PREFIX}/?token={self._console_access.token}"

    @property
    def clock(self) -> Clock:
        """The clock messages are stamped with."""
        return self._clock

    def add_api_key(self, sid: str, secret: str) -> None:
        """Accept Basic auth with an API key (``SK…``) and its secret, like Twilio does."""
        if not _API_KEY_SID.fullmatch(sid):
            raise ValueError(f"an API key SID is SK + 32 hex digits, not {sid!r}")
        if not secret:
            raise ValueError("an API key secret must not be empty")
        self._api.add_credentials(sid, secret)

    # -- running ----------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Bind the port and start serving in background threads; returns self."""
        with self._state_lock:
            if self._server is not None:
                return self
            if self._stopped.is_set():
                raise RuntimeError("a stopped sandbox cannot be started again; make a new one")
            app = SandboxApp(self._api, self._control, ConsolePages(self._console_access))
            server = HTTPServer(self._host, self._port, app)
            self._server = server
            self._callbacks.start()
            self._inbound.start()
            self._lifecycle.start()
            self._serving = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.02},
                name="twilio-sandbox-server",
                daemon=True,
            )
            self._serving.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and end the background threads."""
        with self._state_lock:
            server, serving = self._server, self._serving
            if server is None or self._stopped.is_set():
                self._stopped.set()
                return
            self._stopped.set()
        self._admission.stop()
        self._events.close()
        server.close_connections()
        server.shutdown()
        server.server_close()
        if serving is not None:
            serving.join(2.0)
        self._lifecycle.stop()
        self._inbound.stop()
        self._callbacks.stop()

    def serve_forever(self) -> None:
        """Start (if needed) and block until stop() is called or Ctrl-C; then stop."""
        self.start()
        try:
            while not self._stopped.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what happened ----------------------------------------------------------------------

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Copies of the stored message resources, oldest first."""
        return self._store.snapshot()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received (the newest 10,000), oldest first."""
        return self._api.requests

    @property
    def callbacks(self) -> list[CallbackRecord]:
        """Every status callback attempted (the newest 10,000), oldest first."""
        return self._callbacks.records

    @property
    def in_flight(self) -> int:
        """How many Twilio API requests the sandbox is answering now (control requests aside)."""
        return self._admission.in_flight

    def message(self, sid: str) -> dict[str, Any]:
        """A copy of one stored message resource; KeyError when there is none."""
        resource = self._store.get(sid)
        if resource is None:
            raise KeyError(sid)
        return resource

    @property
    def phone_numbers(self) -> list[dict[str, Any]]:
        """Copies of the account's IncomingPhoneNumbers resources (its E.164 senders)."""
        return self._numbers.all()

    def phone_number(self, number: str) -> dict[str, Any]:
        """A copy of one number's IncomingPhoneNumbers resource (``sms_url``, ``sms_method``…).

        KeyError when `number` (E.164, e.g. ``+15005550006``) is not one of the sandbox's.
        """
        resource = self._numbers.find(number)
        if resource is None:
            raise KeyError(number)
        return resource

    # -- time -------------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass, then wait until the callbacks and relays they caused are done.

        With a ManualClock the clock moves and due status steps run at once; with the
        real clock this sleeps.
        """
        if isinstance(self._clock, ManualClock):
            self._clock.advance(seconds)
        else:
            time.sleep(seconds)
        self._inbound.wait_idle(timeout=60.0)
        self._callbacks.wait_idle(timeout=60.0)

    def settle(self, timeout: float = 5.0) -> None:
        """Wait until every message is final (or scheduled), every callback is delivered and
        every message between sandbox numbers is received.

        Raises TimeoutError when that takes longer than `timeout` seconds. With a
        ManualClock nothing moves on its own: advance() first.
        """
        deadline = time.monotonic() + timeout
        while True:
            busy = self._moving()
            if not busy:
                self._lifecycle.barrier()  # a step that just ran has queued what it causes
                quiet = self._inbound.wait_idle(0) and self._callbacks.wait_idle(0)
                if quiet and not self._moving():
                    return
            if time.monotonic() >= deadline:
                if busy:
                    raise TimeoutError(f"{busy} message(s) still moving after {timeout} s")
                raise TimeoutError(f"status callbacks or relays still pending after {timeout} s")
            time.sleep(0.005)

    def _moving(self) -> int:
        busy = [s for s in self._store.statuses() if s not in FINAL_STATUSES]
        return 0 if all(s == "scheduled" for s in busy) else len(busy)

    def reset(self) -> None:
        """Forget messages, pending status steps, requests, callbacks, deliveries and faults.

        The phone numbers' configuration (``SmsUrl``…) is account set-up, not traffic: it stays.
        """
        self._forget_messages()
        self._api.clear_log()
        self._callbacks.clear()
        self._inbound.clear()
        self.faults.clear()
        self._verify.clear()
        self._optouts.clear()
        self._voice.clear()

    def calls(self) -> list[dict[str, Any]]:
        """Every call, with its status history and transcript."""
        return [call.record() for call in self._voice.calls.all()]

    def verifications(self) -> list[dict[str, Any]]:
        """Every verification started on the sandbox, with its code and status."""
        return self._verify.verifications()

    def _verification_list(self) -> dict[str, Any]:
        return {"verifications": self._verify.verifications()}

    def _forget_messages(self) -> None:
        self._lifecycle.clear()
        self._store.clear()

    # -- live events (the console's stream) -------------------------------------------------

    def _message_changed(self, change: str, message: StoredMessage | None) -> None:
        """Publish a change of the store (called under its lock: no store calls here)."""
        if not self._events.listening:
            return
        if change == "cleared" or message is None:
            self._events.publish("cleared", dict)
            return
        if change == "removed":
            sid = message.sid
            self._events.publish("removed", lambda: {"sid": sid})
            return
        record = message.record()
        if change == "updated":
            kind = "status"
        else:
            kind = "inbound" if record["direction"] == "inbound" else "message"
        self._events.publish(kind, lambda: record)

    def _faults_changed(self) -> None:
        self._events.publish("faults", lambda: armed_faults(self.faults))

    def _answered(self, answer: Answer | None) -> None:
        if answer is None:
            self._events.publish("requests_cleared", dict)
        else:
            self._events.publish("request", answer.to_json)

    # -- incoming messages ------------------------------------------------------------------

    def _arrived(self, resource: dict[str, Any], media_urls: tuple[str, ...]) -> None:
        """A delivered message reaches its recipient when that is one of the sandbox's numbers."""
        self._inbound.relay(resource, media_urls)

    def receive(
        self, from_: str, to: str, body: str, media: Sequence[str] = (), repeat: int = 1
    ) -> dict[str, Any]:
        """Receive a message at sandbox number `to`, as ``POST /_sandbox/inbound`` does.

        Stores it (direction ``inbound``, status ``received``) and, when the number has an
        ``sms_url``, sends Twilio's signed webhook to it `repeat` times (same fields, same
        ``I-Twilio-Idempotency-Token``), waiting for each answer; a failed one (no connection
        11205, no answer in time or a 4xx/5xx 11200, not TwiML 12100) is followed by the same
        webhook, plus ``ErrorCode`` and ``ErrorUrl``, to the ``sms_fallback_url``. The
        ``<Message>`` verbs of a 2xx TwiML answer are sent, from `to` to `from_` by default.
        Returns ``{"sid": "SM…", "deliveries": [{"status", "content_type", "body"} or
        {"status": None, "error"}]}``, each delivery also with ``error_code``, ``fallback``,
        ``replies`` (the SIDs sent) and ``reply_errors`` when they apply.
        Raises InboundRefused (a ValueError naming the field) for bad input or a `to` that
        is not one of the sandbox's numbers.
        """
        urls = [media] if isinstance(media, str) else list(media)
        payload = {"From": from_, "To": to, "Body": body, "MediaUrl": urls, "Repeat": repeat}
        message: InboundMessage = parse_inbound(payload)
        return self._inbound.receive(message)

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        """The recent inbound-message webhook deliveries (the newest 1,000), oldest first."""
        return self._inbound.deliveries
