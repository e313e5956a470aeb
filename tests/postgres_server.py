"""A private PostgreSQL server for tests: started on a free port, killable, removed after."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg

#: Give a URL here to use that server instead of a private one (its databases are created).
URL_VARIABLE = "TWILIO_COMPONENT_TEST_POSTGRES"
SEARCHED = ("/usr/local/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin")


def _binary(name: str) -> str:
    for folder in SEARCHED:
        candidate = Path(folder) / name
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(
            f"{name} not found: install PostgreSQL (Debian: apt-get install postgresql), or set "
            f"{URL_VARIABLE} to a server's URL"
        )
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """One PostgreSQL server in a folder of its own; ``stop``/``start`` restart it in place."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="twilio-pg-"))
        self.port = _free_port()
        self._as_postgres = os.geteuid() == 0  # initdb refuses to run as root
        if self._as_postgres:
            shutil.chown(self.folder, "postgres")
        self._run(
            _binary("initdb"),
            "-D",
            str(self.folder / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self.start()

    def _run(self, *argv: str) -> None:
        command = ["runuser", "-u", "postgres", "--", *argv] if self._as_postgres else list(argv)
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start it; after a kill, until the old backends have gone (about a second)."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        for attempt in range(30):
            try:
                self._run(
                    _binary("pg_ctl"),
                    "-D",
                    str(self.folder / "data"),
                    "-o",
                    options,
                    "-l",
                    str(self.folder / "log"),
                    "-w",
                    "start",
                )
            except subprocess.CalledProcessError:
                if attempt == 29:
                    raise
                time.sleep(0.5)
            else:
                return

    def stop(self, mode: str = "immediate") -> None:
        self._run(_binary("pg_ctl"), "-D", str(self.folder / "data"), "-m", mode, "-w", "stop")

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would."""
        pid = int((self.folder / "data" / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)

    def remove(self) -> None:
        with suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def fresh_database(server_url: str) -> str:
    """The URL of a new, empty database on the server at ``server_url``."""
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


@contextmanager
def private_server() -> Iterator[Server]:
    server = Server()
    try:
        yield server
    finally:
        server.remove()
