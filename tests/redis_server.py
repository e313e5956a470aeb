"""A private Redis server for tests: started on a free port, killable with SIGKILL, restartable."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from postgres_server import _free_port

#: Give a URL here to use that server instead of a private one (tests that kill it still
#: start their own).
URL_VARIABLE = "TWILIO_COMPONENT_TEST_REDIS"


def _binary() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").is_file() else None
    )
    if found is None:
        raise RuntimeError(
            "redis-server not found: install Redis (Debian: apt-get install redis-server), or "
            f"set {URL_VARIABLE} to a server's URL"
        )
    return found


class Server:
    """One redis-server process on a port of its own, keeping nothing on disk (as a broker
    whose data is lost when it dies)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="twilio-redis-"))
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and wait until it answers PING."""
        self.process = subprocess.Popen(
            [
                _binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
                "--logfile",
                str(self.folder / "log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start: see {self.folder / 'log'}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL it, as a crash would: everything it held is gone."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def remove(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def private_server() -> Iterator[Server]:
    server = Server()
    try:
        yield server
    finally:
        with suppress(Exception):
            server.remove()
