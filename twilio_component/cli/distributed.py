"""The command line on Celery: ``campaign send --broker``, ``campaign resume`` and ``worker``."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from twilio_component.cli.arguments import at_least_one, connection_option, server_journal
from twilio_component.cli.console import EXIT_OK, EXIT_UNKNOWN, Console, UsageError
from twilio_component.errors import ComponentError

if TYPE_CHECKING:
    from celery import Celery

    from twilio_component.campaign import Campaign, Checked
    from twilio_component.host import Host
    from twilio_component.journal import Journal

__all__ = [
    "BROKER_VARIABLE",
    "add_broker_options",
    "add_resume",
    "add_worker",
    "enqueue_campaign",
    "resolve_broker",
    "resume_campaign",
    "run_worker",
]

#: Where the broker's URL comes from when --broker is given without one, or not at all.
BROKER_VARIABLE = "TWILIO_COMPONENT_BROKER"
BROKER_FROM_ENVIRONMENT = f"${BROKER_VARIABLE}"
#: Slots of a worker unless told (--concurrency).
DEFAULT_WORKER_CONCURRENCY = 8
_NEEDS_CELERY = "the Celery workers need their extra: pip install 'twilio-component[celery]'"


def add_broker_options(sub: argparse.ArgumentParser) -> None:
    """--broker and --wait, for campaign send and campaign resume."""
    sub.add_argument(
        "--broker",
        nargs="?",
        const=BROKER_FROM_ENVIRONMENT,
        metavar="redis://…",
        help="enqueue the rows for Celery workers (twilio-component worker) instead of sending "
        "them here; needs --journal shared with the workers (postgresql://…). Without a value, "
        f"the URL comes from ${BROKER_VARIABLE} (which keeps a password out of ps)",
    )
    sub.add_argument(
        "--wait",
        action="store_true",
        help="with --broker: follow the campaign to its end, with progress on stderr",
    )
    sub.add_argument(
        "--window",
        type=window,
        metavar="N",
        help="with --broker: rows in the broker at once (default 1000); each row that ends "
        "hands the next one out, so the broker holds about N messages however large the "
        "campaign",
    )


def window(text: str) -> int:
    """Rows a campaign keeps in the broker, 1 to 100000."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 100_000:
        raise argparse.ArgumentTypeError("must be 1 to 100000 rows")
    return value


def add_resume(campaigns: Any) -> None:
    """campaign resume ID: enqueue again what the journal says is not done."""
    resume = campaigns.add_parser(
        "resume",
        help="enqueue again every row of a campaign the journal says is not done",
        description="Enqueue again, for Celery workers, every row of campaign ID that the "
        "journal says is not sent, refused or held: after a lost broker or a killed worker. A "
        "row enqueued twice is still sent once. Prints the campaign's counts; exit 0, or 4 "
        "with --wait when rows are left.",
    )
    resume.add_argument("campaign", metavar="ID")
    resume.add_argument(
        "--journal",
        required=True,
        type=server_journal,
        metavar="URL",
        help="the campaign's journal (postgresql://…)",
    )
    resume.add_argument(
        "--broker",
        metavar="redis://…",
        help=f"the workers' broker (default: ${BROKER_VARIABLE}, which keeps a password out of ps)",
    )
    resume.add_argument(
        "--wait", action="store_true", help="follow the campaign to its end, with progress"
    )
    resume.set_defaults(handler=resume_campaign)


def add_worker(commands: Any) -> None:
    """worker: a Celery worker running keyed steps and campaign rows."""
    worker = commands.add_parser(
        "worker",
        help="run a Celery worker that sends keyed steps and campaign rows",
        description="Run a Celery worker for campaigns enqueued with --broker. The journal "
        "decides whether a row may be sent (nothing twice, across kills and redeliveries); "
        "each sender's pace and the cap on requests in flight are shared by every worker "
        "through the broker's Redis. Twilio's connection comes from TWILIO_* in the "
        "environment, any component's from --connection. Runs until SIGTERM or SIGINT (a warm "
        "shutdown: tasks running finish).",
    )
    worker.set_defaults(handler=run_worker)
    worker.add_argument(
        "--broker",
        metavar="redis://…",
        help=f"the Redis broker (default: ${BROKER_VARIABLE}, which keeps a password out of ps)",
    )
    worker.add_argument(
        "--journal",
        required=True,
        type=server_journal,
        metavar="URL",
        help="the journal (postgresql://…)",
    )
    connection_option(worker)
    worker.add_argument(
        "--concurrency",
        type=at_least_one,
        default=DEFAULT_WORKER_CONCURRENCY,
        metavar="N",
        help=f"tasks run at once (default {DEFAULT_WORKER_CONCURRENCY})",
    )
    worker.add_argument(
        "--pool",
        choices=("threads", "prefork", "solo"),
        default="threads",
        help="threads (default: sends wait on the network, threads share one journal pool), "
        "prefork (one process per slot) or solo",
    )
    worker.add_argument(
        "--loglevel",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        default="WARNING",
        help="Celery's log level (default WARNING)",
    )


def resolve_broker(args: argparse.Namespace, environ: Mapping[str, str]) -> None:
    """``args.broker`` made the URL to use (from $TWILIO_COMPONENT_BROKER when not given) and
    checked; UsageError naming --broker (never its password) when it is no Redis URL."""
    if args.broker in (None, BROKER_FROM_ENVIRONMENT):
        args.broker = environ.get(BROKER_VARIABLE) or None
        if args.broker is None:
            raise UsageError(
                f"--broker: give the workers' Redis URL, or set {BROKER_VARIABLE} "
                "(redis://[:password@]host:6379/0)"
            )
    problem = broker_problem(args.broker)
    if problem is not None:
        raise UsageError(f"--broker {_safe(args.broker)}: {problem}")


def broker_problem(url: str) -> str | None:
    """Why ``url`` is no Redis URL (never repeating its password), or None."""
    if not url.startswith(("redis://", "rediss://")):
        return "give a Redis URL (redis://host:6379/0, rediss:// for TLS)"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError as error:
        return f"is not a valid URL ({error})"
    if not parts.hostname:
        return "names no host: redis://host:6379/0"
    database = parts.path.strip("/")
    if database and not database.isdigit():
        return f"names database {database!r}; Redis databases are numbers (redis://host:6379/0)"
    return None


def _app(broker: str) -> Celery:
    try:
        from twilio_component.distributed import make_app
    except ImportError:
        raise UsageError(_NEEDS_CELERY) from None
    return make_app(broker)


def _safe(url: str) -> str:
    """A URL without its password."""
    scheme, sep, rest = url.partition("://")
    return scheme + sep + rest.rsplit("@", maxsplit=1)[-1] if sep else url


def _reachable(broker: str) -> None:
    """Refuse a broker that does not answer (exit 1, as any service that cannot be reached)."""
    import redis

    try:
        redis.Redis.from_url(broker, socket_connect_timeout=5, socket_timeout=5).ping()
    except redis.RedisError as error:
        raise ComponentError(
            f"--broker {_safe(broker)}: cannot be reached ({type(error).__name__}); is Redis "
            "running there? Nothing was enqueued."
        ) from None


def enqueue_campaign(
    args: argparse.Namespace,
    console: Console,
    *,
    host: Host,
    run: Campaign,
    checked: Checked,
) -> int:
    """campaign send --broker: write the plan, enqueue a window of rows (the workers top it
    up), and follow them with --wait."""
    from twilio_component.distributed.campaigns import submit
    from twilio_component.distributed.window import WINDOW

    if args.sandbox:
        raise UsageError("--broker and --sandbox: workers cannot reach an embedded sandbox")
    app = _app(args.broker)
    _reachable(args.broker)
    try:
        enqueued = submit(
            app, run, checked, mps=args.mps, cap=args.concurrency or 0, window=args.window or WINDOW
        )
    except ValueError as error:  # the file changed and cannot be read any more
        raise UsageError(str(error)) from None
    console.problem(
        f"campaign {run.id}: {enqueued} row(s) enqueued on {_safe(args.broker)}"
        + ("" if args.wait else "; campaign status shows how far the workers are")
    )
    return _finish(
        args,
        console,
        journal=host.journal,
        campaign_id=run.id,
        enqueued=enqueued,
        duplicates=checked.duplicates,
    )


def resume_campaign(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    """campaign resume ID: enqueue again what is not done."""
    from twilio_component.distributed.campaigns import resume
    from twilio_component.journal import open_journal

    resolve_broker(args, environ)
    app = _app(args.broker)
    _reachable(args.broker)
    journal = open_journal(args.journal)
    enqueued = resume(app, journal, args.campaign)
    if enqueued is None:
        raise UsageError(
            f"{_safe(args.journal)} has no campaign {args.campaign!r} sent with --broker"
        )
    console.problem(f"campaign {args.campaign}: {enqueued} row(s) not done enqueued again")
    return _finish(
        args, console, journal=journal, campaign_id=args.campaign, enqueued=enqueued, duplicates=0
    )


def _finish(
    args: argparse.Namespace,
    console: Console,
    *,
    journal: Journal,
    campaign_id: str,
    enqueued: int,
    duplicates: int,
) -> int:
    from twilio_component.campaign import status
    from twilio_component.distributed.campaigns import follow

    counts = status(journal, campaign_id) or {}
    if args.wait:
        counts = follow(journal, campaign_id, _progress(console, campaign_id, args))
    console.result({**counts, "enqueued": enqueued, "duplicates": duplicates})
    if not args.wait:
        return EXIT_OK
    left = counts["total"] - counts["sent"] - counts["failed"]
    if left:
        console.problem(
            f"campaign {campaign_id}: {left} row(s) not sent nor refused after nothing changed "
            f"for a while; run campaign resume {campaign_id} to enqueue them again"
        )
        return EXIT_UNKNOWN
    return EXIT_OK


#: Seconds without any change after which --wait says how to go on.
STALL_HINT = 15.0


def _progress(
    console: Console, campaign_id: str, args: argparse.Namespace
) -> Callable[[Mapping[str, Any], float, float], None]:
    """Progress of a campaign on workers: a line every two seconds on stderr (counts from the
    journal), and once, when nothing changed for a while, how to enqueue what is left."""
    from twilio_component.campaign import PROGRESS_EVERY

    last = [-PROGRESS_EVERY]
    hinted = [False]

    def show(counts: Mapping[str, Any], elapsed: float, idle: float) -> None:
        done = sum(int(counts.get(state, 0)) for state in ("sent", "failed", "held"))
        total = int(counts.get("total", 0))
        if elapsed - last[0] >= PROGRESS_EVERY or done >= total:
            last[0] = elapsed
            console.problem(
                f"campaign {campaign_id}: {done}/{total} done, {counts.get('sent', 0)} sent, "
                f"{counts.get('failed', 0)} failed, {counts.get('held', 0)} held, "
                f"{counts.get('unknown', 0)} unknown or in flight, {counts.get('pending', 0)} "
                f"waiting, {elapsed:.1f} s"
            )
            console.err.flush()
        if idle >= STALL_HINT and not hinted[0]:
            hinted[0] = True
            console.problem(
                f"campaign {campaign_id}: nothing changed for {idle:.0f} s; if a worker was "
                f"killed or the broker lost its queue, run: twilio-component campaign resume "
                f"{campaign_id} --broker {_safe(args.broker)} --journal {_safe(args.journal)} "
                "(nothing is sent twice)"
            )

    return show


def run_worker(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    """worker: check the connections, the journal and the broker, then consume until stopped."""
    import json

    from twilio_component.cli.target import Connections, connection_files, named_by_environment
    from twilio_component.host import Host
    from twilio_component.journal import open_journal

    resolve_broker(args, environ)
    _app(args.broker)  # the extra is installed
    given = connection_files(args.connection)
    with Host.load() as host:
        connections = Connections(host, given)
        with named_by_environment(host):
            connections.read_environment(environ)
        if connections.unavailable and not given:
            raise next(iter(connections.unavailable.values()))
    open_journal(args.journal).close()
    try:
        _reachable(args.broker)
    except ComponentError as down:  # a worker may start before its broker: it waits for it
        console.problem(f"worker: {down.args[0].removesuffix(' Nothing was enqueued.')}")
        console.problem("worker: waiting for the broker (Celery retries the connection)")
    from twilio_component.distributed.app import CONNECTIONS_VARIABLE, JOURNAL_VARIABLE, QUEUE

    if environ is not os.environ:
        os.environ.update({k: v for k, v in environ.items() if k.startswith("TWILIO")})
    os.environ[BROKER_VARIABLE] = args.broker
    os.environ[JOURNAL_VARIABLE] = args.journal
    files = dict(pair.partition("=")[::2] for pair in args.connection)
    os.environ[CONNECTIONS_VARIABLE] = json.dumps(
        {name.strip(): os.path.abspath(path) for name, path in files.items()}
    )
    console.problem(
        f"worker: {args.concurrency} {args.pool} slot(s) on queue {QUEUE} of "
        f"{_safe(args.broker)}; journal {_safe(args.journal)}"
    )
    console.err.flush()
    return _supervise(
        [
            sys.executable,
            "-m",
            "celery",
            "--app",
            "twilio_component.distributed",
            "worker",
            f"--concurrency={args.concurrency}",
            f"--pool={args.pool}",
            f"--loglevel={args.loglevel}",
            f"--queues={QUEUE}",
            f"--hostname=twilio-component-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
        ],
        console,
    )


#: Seconds before a Celery worker that stopped by itself is started again.
RESTART_AFTER = 1.0


def _supervise(argv: list[str], console: Console) -> int:
    """Run the Celery worker in a child process, and start it again whenever it stops without
    being asked to: Celery's Redis transport can end a worker with an "unrecoverable error"
    when the broker goes away, and a worker that stays down would leave its queue unserved.
    SIGTERM and SIGINT are passed on (a warm shutdown); the child dies with this process."""
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    while True:
        child = subprocess.Popen(argv, preexec_fn=_die_with_parent)  # noqa: S603, PLW1509 (our own argv)
        code = child.wait()
        if stopping:
            return EXIT_OK if code in (0, -signal.SIGTERM, -signal.SIGINT) else code
        console.problem(f"worker: Celery stopped by itself (exit {code}); starting it again")
        console.err.flush()
        time.sleep(RESTART_AFTER)


def _die_with_parent() -> None:
    """In the child: be killed when the supervising process dies (Linux), even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
