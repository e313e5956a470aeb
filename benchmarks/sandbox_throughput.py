"""Measure how many creates per second the sandbox answers from two keep-alive clients."""

from __future__ import annotations

import argparse
import base64
import http.client
import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from twilio_component.sandbox import Sandbox

CLIENTS = 2


def _request(sandbox: Sandbox) -> tuple[str, bytes, dict[str, str]]:
    """The path, form body and headers of one create."""
    credentials = f"{sandbox.account_sid}:{sandbox.auth_token}".encode()
    headers = {
        "Authorization": "Basic " + base64.b64encode(credentials).decode("ascii"),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    path = f"/2010-04-01/Accounts/{sandbox.account_sid}/Messages.json"
    body = urlencode({"To": "+15558675310", "From": "+15005550006", "Body": "Benchmark"})
    return path, body.encode("ascii"), headers


def _http_client(sandbox: Sandbox, until: float) -> int:
    """Creates answered over one keep-alive http.client connection until ``until``."""
    parts = urlsplit(sandbox.base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    path, body, headers = _request(sandbox)
    done = 0
    try:
        while time.perf_counter() < until:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 201:
                raise RuntimeError(f"HTTP {response.status}")
            done += 1
    finally:
        connection.close()
    return done


def _raw_client(sandbox: Sandbox, until: float) -> int:
    """The same over a bare keep-alive socket: the request written whole, the answer read by its
    Content-Length, so that the figure is the sandbox's cost rather than the client's."""
    parts = urlsplit(sandbox.base_url)
    path, body, headers = _request(sandbox)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{head}Content-Length: {len(body)}\r\n\r\n"
    ).encode("ascii") + body
    done = 0
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = b""
        while time.perf_counter() < until:
            sock.sendall(request)
            while b"\r\n\r\n" not in buffer:
                buffer += _receive(sock)
            answer_head, _, buffer = buffer.partition(b"\r\n\r\n")
            if not answer_head.startswith(b"HTTP/1.1 201 "):
                raise RuntimeError(answer_head.split(b"\r\n")[0].decode("latin-1"))
            length = int(answer_head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            while len(buffer) < length:
                buffer += _receive(sock)
            buffer = buffer[length:]
            done += 1
    return done


def _receive(sock: socket.socket) -> bytes:
    data = sock.recv(65_536)
    if not data:
        raise RuntimeError("the sandbox closed the connection")
    return data


def measure(seconds: float, client: Callable[[Sandbox, float], int] = _raw_client) -> float:
    """Creates per second over ``seconds``, from CLIENTS keep-alive ``client`` threads."""
    with Sandbox(message_cap=100_000) as sandbox:
        counts = [0] * CLIENTS
        errors: list[str] = []

        def run(index: int, until: float) -> None:
            try:
                counts[index] = client(sandbox, until)
            except (OSError, RuntimeError, ValueError, IndexError) as error:
                errors.append(str(error) or type(error).__name__)

        started = time.perf_counter()
        until = started + seconds
        threads = [threading.Thread(target=run, args=(i, until)) for i in range(CLIENTS)]
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
    raw = measure(args.seconds, _raw_client)
    print(f"sandbox creates/s ({CLIENTS} keep-alive clients): {raw:.0f}")
    library = measure(args.seconds, _http_client)
    print(
        f"  the same with http.client as the clients (its own parsing shares the GIL): "
        f"{library:.0f}"
    )


if __name__ == "__main__":
    main()
