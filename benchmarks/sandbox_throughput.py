"""Measure how many creates per second the sandbox answers from two keep-alive clients."""

from __future__ import annotations

import argparse
import base64
import http.client
import threading
import time
from urllib.parse import urlencode, urlsplit

from twilio_component.sandbox import Sandbox

CLIENTS = 2


def _client(
    sandbox: Sandbox, until: float, counts: list[int], errors: list[str], index: int
) -> None:
    parts = urlsplit(sandbox.base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    credentials = f"{sandbox.account_sid}:{sandbox.auth_token}".encode()
    headers = {
        "Authorization": "Basic " + base64.b64encode(credentials).decode("ascii"),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    path = f"/2010-04-01/Accounts/{sandbox.account_sid}/Messages.json"
    body = urlencode({"To": "+15558675310", "From": "+15005550006", "Body": "Benchmark"})
    done = 0
    try:
        while time.perf_counter() < until:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 201:
                errors.append(f"HTTP {response.status}")
                return
            done += 1
    finally:
        counts[index] = done
        connection.close()


def measure(seconds: float) -> float:
    """Creates per second over `seconds`, from CLIENTS keep-alive connections."""
    with Sandbox(message_cap=100_000) as sandbox:
        counts = [0] * CLIENTS
        errors: list[str] = []
        started = time.perf_counter()
        until = started + seconds
        threads = [
            threading.Thread(target=_client, args=(sandbox, until, counts, errors, i))
            for i in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        if errors:
            raise SystemExit(f"benchmark failed: {errors[0]}")
        created = len(sandbox.messages)
        if created != sum(counts):
            raise SystemExit(f"benchmark failed: {sum(counts)} answered, {created} stored")
        return sum(counts) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="how long to run (default 2)")
    args = parser.parse_args()
    rate = measure(args.seconds)
    print(f"sandbox creates/s ({CLIENTS} keep-alive clients): {rate:.0f}")


if __name__ == "__main__":
    main()
