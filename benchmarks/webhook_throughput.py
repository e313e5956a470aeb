"""Measure how many signed webhooks per second ``listen``'s receiver verifies, deduplicates and
answers over loopback HTTP, the workflow run elsewhere (events go to a queue).

Each request is a distinct incoming SMS (its own MessageSid), signed as Twilio signs it, on a
new connection as Twilio opens one, sent by another process (Twilio is not inside the
receiver: senders in the same process would take the receiver's interpreter lock). Printed side
by side in one run: the receiver over HTTP, the same webhooks again (all duplicates), the same
requests through ``Host.receive`` alone (no HTTP), and the rate against the 1,000/s target.
"""

from __future__ import annotations

import argparse
import http.client
import json
import queue
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from twilio_component import Host, WebhookRequest
from twilio_component.triggers.server import serve
from twilio_component.twilio.signature import compute_signature
from twilio_component.wsgi import TriggerApp

TOKEN = "b" * 32
CONNECTION = {"username": "AC" + "b" * 32, "password": TOKEN}
PATH = "/twilio/v1/newIncomingSMS"
TARGET = 1_000


def webhooks(url: str, count: int, offset: int) -> list[tuple[bytes, str]]:
    """``count`` signed incoming-SMS forms with distinct MessageSids."""
    made = []
    for index in range(offset, offset + count):
        sid = f"SM{index:032x}"
        fields = {
            "MessageSid": sid,
            "SmsSid": sid,
            "AccountSid": CONNECTION["username"],
            "From": "+15558675310",
            "To": "+15005550006",
            "Body": f"message {index}",
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        made.append((urlencode(fields).encode(), compute_signature(TOKEN, url, fields)))
    return made


def over_http(url: str, requests: list[tuple[bytes, str]], clients: int) -> tuple[float, int]:
    """Seconds to post every request from ``clients`` threads, and how many got 200."""
    parts = urlsplit(url)
    work: queue.SimpleQueue[tuple[bytes, str]] = queue.SimpleQueue()
    for item in requests:
        work.put(item)
    ok = [0] * clients

    def client(slot: int) -> None:
        while True:
            try:
                body, signature = work.get_nowait()
            except queue.Empty:
                return
            connection = http.client.HTTPConnection(
                parts.hostname or "127.0.0.1", parts.port, timeout=30
            )
            connection.request(
                "POST",
                parts.path,
                body=body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": signature,
                },
            )
            answer = connection.getresponse()
            answer.read()
            connection.close()
            ok[slot] += answer.status == 200

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, sum(ok)


def in_process(host: Host, url: str, requests: list[tuple[bytes, str]]) -> float:
    """Seconds for ``Host.receive`` alone to take every request."""
    started = time.perf_counter()
    for body, signature in requests:
        request = WebhookRequest(
            "POST",
            url,
            {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
            body,
        )
        host.receive("twilio/v1/newIncomingSMS", request, connection=CONNECTION)
    return time.perf_counter() - started


def send_from_another_process(url: str, requests: list[tuple[bytes, str]], clients: int) -> float:
    """Webhooks per second when another process posts ``requests``; every one must get 200."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump({"url": url, "requests": [[b.decode(), s] for b, s in requests]}, file)
    done = subprocess.run(
        [sys.executable, __file__, "--send", file.name, "--clients", str(clients)],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, ok = json.loads(done.stdout)
    if ok != len(requests):
        raise SystemExit(f"only {ok} of {len(requests)} webhooks were answered 200")
    return len(requests) / float(seconds)


def _send(path: str, clients: int) -> int:
    with open(path, encoding="utf-8") as file:
        work = json.load(file)
    requests = [(body.encode(), signature) for body, signature in work["requests"]]
    print(json.dumps(over_http(work["url"], requests, clients)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=4_000, help="webhooks per measurement")
    parser.add_argument("--clients", type=int, default=8, help="concurrent senders")
    parser.add_argument("--send", metavar="FILE", help=argparse.SUPPRESS)  # the sender process
    args = parser.parse_args(argv)
    if args.send:
        return _send(args.send, args.clients)
    events: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()

    def elsewhere(_kind: str, new: tuple[dict[str, Any], ...]) -> None:
        for event in new:
            events.put(event)  # a workflow runner would take them from here

    with Host.load() as host:
        app = TriggerApp(host, connections={"twilio": CONNECTION}, on_events=elsewhere)
        with serve(app, "127.0.0.1", 0) as server:
            url = f"http://127.0.0.1:{server.server_address[1]}{PATH}"
            send_from_another_process(url, webhooks(url, 200, 10**9), args.clients)  # warm-up
            warm = events.qsize()
            requests = webhooks(url, args.requests, 0)
            http_rate = send_from_another_process(url, requests, args.clients)
            emitted = events.qsize() - warm
            duplicate_rate = send_from_another_process(url, requests, args.clients)
            emitted_again = events.qsize() - warm - emitted
        local = args.requests / in_process(host, url, webhooks(url, args.requests, 2 * 10**9))
    print(
        f"receiver over HTTP ({args.clients} senders in another process, a connection per "
        f"webhook): {http_rate:,.0f} webhooks/s; {emitted:,} events for {args.requests:,} webhooks"
    )
    print(
        f"the same webhooks again (all duplicates): {duplicate_rate:,.0f} webhooks/s; "
        f"{emitted_again} events"
    )
    print(f"Host.receive alone (no HTTP): {local:,.0f} webhooks/s")
    print(f"ratio HTTP / in-process: {http_rate / local:.2f}")
    print(f"ratio HTTP / target {TARGET:,}/s: {http_rate / TARGET:.2f}")
    # The exit code says whether the receiver was right (each webhook one event, duplicates
    # none); the rate is for people to read, since it depends on the machine and its load.
    return 0 if emitted == args.requests and emitted_again == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
