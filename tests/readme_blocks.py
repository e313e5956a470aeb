"""README.md's fenced blocks, and a terminal to paste their commands into.

A `Terminal` is a bash reading what is typed into it, as a person pastes a README block one
command at a time: each command's exit status and what it printed (stdout and stderr apart),
Ctrl-C for a command that serves until interrupted, and every job a command started with `&`
stopped when the terminal is closed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

T = TypeVar("T")

_FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([^`\s]*)\s*$")
_HEADING = re.compile(r"^#{1,6} +(.+?)\s*#*\s*$")
#: A here-document's operator and delimiter (<<EOF, <<'EOF', <<-"EOF"; not a <<< here-string).
_HEREDOC = re.compile(r"(?<!<)<<(-?)(?!<)\s*(['\"]?)(\w+)\2")


@dataclass(frozen=True)
class Block:
    """One fenced block: the heading it is under, its language tag, its text and line."""

    section: str
    language: str
    text: str
    line: int


def blocks(markdown: str) -> list[Block]:
    """Every fenced block of a Markdown text, in order, with the heading above it."""
    found: list[Block] = []
    section = ""
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if fence is None:
            heading = _HEADING.match(lines[index])
            if heading is not None:
                section = heading.group(1)
            index += 1
            continue
        indent, marker, language = fence.groups()
        opened = index
        body: list[str] = []
        index += 1
        while index < len(lines) and lines[index].strip() != marker:
            body.append(lines[index].removeprefix(indent))
            index += 1
        if index == len(lines):
            raise ValueError(f"README.md:{opened + 1}: a fence that is never closed")
        found.append(Block(section, language, "\n".join(body) + "\n", opened + 1))
        index += 1
    return found


def commands(script: str) -> list[str]:
    """A shell block's commands as a person pastes them one at a time: a line, with the lines a
    trailing backslash or a here-document continues it onto; comment and blank lines go with
    the command after them (trailing ones are not commands)."""
    found: list[str] = []
    pending: list[str] = []
    delimiter: tuple[str, bool] | None = None
    for line in script.splitlines():
        pending.append(line)
        if delimiter is not None:
            word, tabs = delimiter
            if (line.lstrip("\t") if tabs else line) == word:
                delimiter = None
                found.append("\n".join(pending))
                pending = []
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or line.endswith("\\"):
            continue
        heredoc = _HEREDOC.search(line)
        if heredoc is not None:
            delimiter = (heredoc.group(3), heredoc.group(1) == "-")
            continue
        found.append("\n".join(pending))
        pending = []
    if delimiter is not None:
        raise ValueError(f"a here-document never ends ({delimiter[0]}): {script!r}")
    if any(line.strip() and not line.strip().startswith("#") for line in pending):
        raise ValueError(f"a command never ends: {pending!r}")
    return found


def replaced(text: str, replacements: Mapping[str, str]) -> str:
    """``text`` with each key replaced by its value; every key must occur in it (a block that
    changed then fails here instead of running against the wrong server)."""
    for old, new in replacements.items():
        assert old in text, f"{old!r} is no longer in the README block:\n{text}"
        text = text.replace(old, new)
    return text


@dataclass(frozen=True)
class Result:
    """What one pasted command did."""

    command: str
    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout, parsed as JSON."""
        return json.loads(self.out)

    def __str__(self) -> str:
        return f"$ {self.command}\n(exit {self.code})\n--- stdout\n{self.out}--- stderr\n{self.err}"


class _Stream:
    """Everything one pipe has carried so far, read by a thread of its own."""

    def __init__(self, pipe: IO[bytes]) -> None:
        self._data = bytearray()
        self._ended = False
        self._changed = threading.Condition()
        threading.Thread(target=self._read, args=(pipe,), daemon=True).start()

    def _read(self, pipe: IO[bytes]) -> None:
        while chunk := os.read(pipe.fileno(), 65536):
            with self._changed:
                self._data += chunk
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def size(self) -> int:
        with self._changed:
            return len(self._data)

    def text(self, start: int = 0, end: int | None = None) -> str:
        with self._changed:
            return self._data[start:end].decode(errors="replace")

    def wait(self, found: Callable[[bytes], T | None], what: str) -> T:
        """Wait until ``found`` finds something in what was carried; fail if the pipe ends."""
        with self._changed:
            while True:
                value = found(bytes(self._data))
                if value is not None:
                    return value
                if self._ended:
                    raise AssertionError(f"the terminal ended before {what}:\n{self.text()}")
                self._changed.wait()


@dataclass(frozen=True)
class _Process:
    """One process as /proc/PID/stat shows it."""

    pid: int
    state: str
    parent: int
    group: int


def _process(pid: int) -> _Process | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, parent, group = stat.rsplit(")", 1)[1].split()[:3]
    return _Process(pid, state, int(parent), int(group))


def _running() -> Iterator[_Process]:
    """Every process still running (a zombie has ended)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            found = _process(int(entry.name))
            if found is not None and found.state != "Z":
                yield found


def _children(pid: int) -> list[int]:
    """The running processes whose parent is ``pid``."""
    return [p.pid for p in _running() if p.parent == pid]


def _group(pgid: int) -> list[int]:
    """The running processes of process group ``pgid``."""
    return [p.pid for p in _running() if p.group == pgid]


def running(pid: int) -> bool:
    """Whether process ``pid`` exists and has not ended (a zombie has ended)."""
    found = _process(pid)
    return found is not None and found.state != "Z"


class Terminal:
    """A bash that runs what is pasted into it, in ``cwd`` with ``env``. Commands read their
    standard input from /dev/null (bash reads the pasted text from a pipe of its own)."""

    def __init__(self, cwd: Path, env: Mapping[str, str]) -> None:
        read, self._keyboard = os.pipe()
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc", f"/dev/fd/{read}"],
            pass_fds=(read,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
        )
        os.close(read)
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self._out = _Stream(self.process.stdout)
        self._err = _Stream(self.process.stderr)
        self._token = f"@@readme-{uuid.uuid4().hex}"
        self._count = 0
        self._running: tuple[str, str, int, int] | None = None
        #: The process IDs of the jobs started with `&`, in order.
        self.background: list[int] = []
        self._last_background = ""

    def type(self, command: str) -> None:
        """Paste ``command`` and press Enter; it runs while the test goes on."""
        assert self._running is None, f"still running {self._running[0]!r}"
        checked = subprocess.run(
            ["bash", "-n", "-c", command], capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, (
            f"not a complete shell command:\n{command}\n{checked.stderr}"
        )
        self._count += 1
        marker = f"{self._token}-{self._count}"
        self._running = (command, marker, self._out.size(), self._err.size())
        done = f"printf '\\n{marker} %s %s\\n' \"$?\" \"$!\"; printf '\\n{marker}\\n' >&2\n"
        os.write(self._keyboard, (command + "\n" + done).encode())

    def finish(self) -> Result:
        """Wait for the command typed last to end: its exit status and what it printed."""
        assert self._running is not None, "no command is running"
        command, marker, out_from, err_from = self._running
        tail = f"\n{marker} ".encode()

        def ended(data: bytes) -> tuple[int, int, str] | None:
            at = data.find(tail, out_from)
            end = data.find(b"\n", at + len(tail)) if at >= 0 else -1
            if end < 0:
                return None
            code, _, last = data[at + len(tail) : end].decode().partition(" ")
            return at, int(code), last

        out_to, code, last = self._out.wait(ended, f"{command!r} ended")
        err_tail = f"\n{marker}\n".encode()

        def err_ended(data: bytes) -> int | None:
            at = data.find(err_tail, err_from)
            return at if at >= 0 else None

        err_to = self._err.wait(err_ended, f"{command!r} ended")
        self._running = None
        if last and last != self._last_background:
            self._last_background = last
            self.background.append(int(last))
        return Result(
            command, code, self._out.text(out_from, out_to), self._err.text(err_from, err_to)
        )

    def run(self, command: str) -> Result:
        """Paste ``command``, press Enter and wait for it to end."""
        self.type(command)
        return self.finish()

    def wait_for_line(self, found: Callable[[str], bool], what: str) -> str:
        """Wait until the running command prints a line (on stdout) that ``found`` accepts."""
        assert self._running is not None, "no command is running"
        start = self._running[2]

        def line(data: bytes) -> str | None:
            for raw in data[start:].split(b"\n")[:-1]:
                text = raw.decode(errors="replace")
                if found(text):
                    return text
            return None

        return self._out.wait(line, what)

    def interrupt(self) -> Result:
        """Ctrl-C: SIGINT to the command running in the foreground (jobs started with `&` are
        not in the foreground), then wait for it to end."""
        return self._signal(signal.SIGINT)

    def _signal(self, number: int) -> Result:
        for pid in _children(self.process.pid):
            if pid not in self.background:
                with suppress(ProcessLookupError):
                    os.kill(pid, number)
        return self.finish()

    def close(self) -> None:
        """Stop what the commands left running: SIGTERM to a command still in the foreground
        and to every job started with `&`, wait for them all (bash's own `wait`), then exit."""
        if self.process.poll() is None:
            if self._running is not None:
                self._signal(signal.SIGTERM)
            for pid in self.background:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            if self.background:
                self.run("wait")
            os.close(self._keyboard)
            self.process.wait()
        else:
            os.close(self._keyboard)
        # Whatever the commands started and left behind in the terminal's process group.
        for pid in _group(self.process.pid):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@contextmanager
def terminal(cwd: Path, env: Mapping[str, str]) -> Iterator[Terminal]:
    """A terminal, closed (its jobs stopped) however the test ends."""
    opened = Terminal(cwd, env)
    try:
        yield opened
    finally:
        opened.close()
