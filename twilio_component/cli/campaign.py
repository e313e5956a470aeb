"""``campaign send|status|report``: one step to every row of a CSV, sent from here (or, with
--broker, by workers), and what the journal says of it."""

from __future__ import annotations

import argparse
import csv
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from twilio_component.campaign import DEFAULT_CONCURRENCY
from twilio_component.cli.arguments import (
    concurrency,
    journal_target,
    network_options,
    rate,
    read_json,
    server_journal,
)
from twilio_component.cli.console import (
    EPILOG,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_UNKNOWN,
    Console,
    Parser,
    UsageError,
    one_line,
    quiet_stdout,
)
from twilio_component.cli.distributed import (
    add_broker_options,
    add_resume,
    enqueue_campaign,
    resolve_broker,
)
from twilio_component.cli.target import target
from twilio_component.journal.targets import is_server, shown

#: Where campaigns are journaled when --journal is not given.
DEFAULT_JOURNAL = "twilio-component-journal.db"


def add(commands: Any) -> None:
    """The campaign command and its send, status and report subcommands."""
    campaign = commands.add_parser(
        "campaign",
        help="send one step to every row of a CSV, each recipient once, resumable",
        description="Send one step to every row of a CSV file. Every row is checked before "
        "the first send; each recipient is sent to at most once per campaign; running the same "
        "command again resumes it. The journal records every row.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    campaigns = campaign.add_subparsers(
        dest="campaign_command", required=True, metavar="SUBCOMMAND", parser_class=Parser
    )
    campaign_send = campaigns.add_parser(
        "send",
        help="send (or resume) a campaign",
        description="Send STEP.json to every row of RECIPIENTS.csv; ${row.COLUMN} in the "
        "step's parameters takes the row's value. Prints a JSON summary (campaign, total, "
        "sent, failed, unknown, pending); exit 0 when every row is sent or refused by Twilio, 4 "
        "when some outcomes stay unknown or rows are left for later (run it again to finish), "
        "2 on invalid rows.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    campaign_send.add_argument("recipients", metavar="RECIPIENTS.csv")
    campaign_send.add_argument(
        "--step",
        required=True,
        metavar="STEP.json",
        help='one step, e.g. {"type": '
        '"twilio/v1/sendSMS", "parameters": {"To": "${row.phone}", "From": "+1…", "Body": "…"}}',
    )
    campaign_send.add_argument(
        "--campaign",
        required=True,
        type=campaign_id,
        metavar="ID",
        help="the campaign's name (letters, digits, . _ - and spaces); reuse it to resume",
    )
    campaign_send.add_argument(
        "--mps",
        type=rate,
        metavar="N",
        help="segments per second per sender (default: Twilio's for the sender's type: 1 for "
        "a long code, 3 toll-free, 100 short code, 10 alphanumeric or WhatsApp)",
    )
    campaign_send.add_argument(
        "--concurrency",
        type=concurrency,
        metavar="N",
        help=f"requests in flight at most (default {DEFAULT_CONCURRENCY}: enough for 100 "
        "messages per second when each answer takes 300 ms); with --broker, across every "
        "worker (default there: no cap beyond the workers' own slots)",
    )
    campaign_send.add_argument(
        "--default-region",
        type=region,
        metavar="CC",
        help="read the recipients' numbers as people write them in this country (two letters, "
        "e.g. US: (415) 867-5309, 415.867.5309) and send them in E.164; a number not valid "
        "there is named by its line and nothing is sent (needs twilio-component[numbers])",
    )
    campaign_send.add_argument(
        "--send-window",
        type=send_window,
        metavar="HH:MM-HH:MM",
        help="send only inside this window of each recipient's local time, from their "
        "number's time zones (all of them must be inside; e.g. 08:00-21:00, the US federal "
        "hours): the rest are deferred, counted, and sent by a later run of the same command",
    )
    campaign_send.add_argument(
        "--timezone",
        type=zone_name,
        metavar="ZONE",
        help="the time zone of numbers that have none of their own, for --send-window (an "
        "IANA name such as America/New_York)",
    )
    campaign_send.add_argument(
        "--skip-landlines",
        action="store_true",
        help="look each recipient up once (Lookup's line type, a paid request; kept in the "
        "journal) and skip landlines, which cannot receive a text (state skipped_landline)",
    )
    network_options(campaign_send)
    add_broker_options(campaign_send)
    campaign_send.set_defaults(handler=campaign_send_command)
    add_resume(campaigns)
    for name, what in (("status", "print a campaign's counts"), ("report", "print its CSV report")):
        sub = campaigns.add_parser(name, help=what, description=what[0].upper() + what[1:] + ".")
        sub.add_argument("campaign", metavar="ID")
        sub.add_argument(
            "--journal",
            type=journal_target,
            metavar="PATH",
            default=DEFAULT_JOURNAL,
            help=f"the campaign's journal (default {DEFAULT_JOURNAL})",
        )
        sub.set_defaults(handler=status if name == "status" else report)


@contextmanager
def _stopped_by(*signals: signal.Signals) -> Iterator[None]:
    """These signals stop a campaign as Ctrl-C does: rows in flight finish and are recorded,
    the summary is printed (in the main thread only; elsewhere they are left as they are)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def send_window(text: str) -> Any:
    """A send window HH:MM-HH:MM (argparse type: exit 2 saying what is wrong)."""
    from twilio_component.campaign.hours import SendWindow

    try:
        return SendWindow.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def zone_name(text: str) -> str:
    """An IANA time zone name (argparse type)."""
    from twilio_component.campaign.hours import time_zone

    try:
        time_zone(text.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text.strip()


def _window(args: argparse.Namespace) -> Any:
    """The send window of the flags, with --timezone as its fallback; None without one."""
    if args.send_window is None:
        if args.timezone is not None:
            raise UsageError("--timezone is the zone of numbers without one for --send-window")
        return None
    from dataclasses import replace

    return replace(args.send_window, fallback=args.timezone)


def region(text: str) -> str:
    """A country as two letters that libphonenumber knows (argparse type: exit 2 otherwise)."""
    from twilio_component.phone_numbers import NumberError, is_region

    code = text.strip().upper()
    try:
        known = is_region(code)
    except NumberError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if not known:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a country code libphonenumber knows; give two letters such as "
            "US, GB or DE"
        )
    return code


def campaign_id(text: str) -> str:
    """A campaign's name: not empty, one line, no slash (its rows' keys are campaign/ID/…)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty: name the campaign (e.g. spring-sale)")
    if "/" in text or not text.isprintable() or len(text) > 200:
        raise argparse.ArgumentTypeError(
            "must be at most 200 printable characters without '/' (e.g. spring-sale)"
        )
    return text


def status(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    """campaign status: a campaign's counts by state."""
    from twilio_component.campaign import status as counts_of
    from twilio_component.journal import open_journal

    journal_exists(args.journal)
    counts = counts_of(open_journal(args.journal), args.campaign)
    if counts is None:
        raise UsageError(f"{shown(args.journal)} has no campaign {args.campaign!r}")
    console.result(counts)
    return EXIT_OK


def report(args: argparse.Namespace, console: Console, environ: Mapping[str, str]) -> int:
    """campaign report: one CSV line per recipient."""
    from twilio_component.campaign import report as write_report
    from twilio_component.campaign import status as counts_of
    from twilio_component.host import Host
    from twilio_component.journal import open_journal

    journal_exists(args.journal)
    journal = open_journal(args.journal)
    if counts_of(journal, args.campaign) is None:
        raise UsageError(f"{shown(args.journal)} has no campaign {args.campaign!r}")
    try:
        with Host.load() as host:
            write_report(journal, args.campaign, console.out, host)
        console.out.flush()
    except BrokenPipeError:  # the reader stopped early (| head): nothing is lost
        quiet_stdout(console)
    return EXIT_OK


def journal_exists(path: str) -> None:
    """Refuse a journal file that is not there (a server's URL is checked by opening it)."""
    if is_server(path):
        return
    if not Path(path).is_file():
        raise UsageError(f"--journal {path}: no such journal (campaign send creates it)")


def _check_broker_flags(args: argparse.Namespace, environ: Mapping[str, str]) -> None:
    if args.broker:
        resolve_broker(args, environ)
    if args.journal is None and args.broker:
        raise UsageError(
            "--broker needs --journal, the one the workers use (postgresql://…): it is what "
            "decides whether a row may be sent"
        )
    if args.broker:
        try:
            server_journal(args.journal)
        except argparse.ArgumentTypeError as error:
            raise UsageError(f"--journal {shown(args.journal)}: {error}") from None
    if args.wait and not args.broker:
        raise UsageError("--wait follows a campaign sent with --broker; give --broker too")
    if args.window and not args.broker:
        raise UsageError("--window is how many rows sit in the broker; give --broker too")


def _campaign_input(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The recipients (read as a stream) and the step of campaign send; UsageError when
    either cannot be used."""
    from twilio_component.campaign import Recipients

    try:
        recipients = Recipients(args.recipients)
    except (ValueError, csv.Error) as error:
        raise UsageError(str(error)) from None
    step = read_json(args.step)
    if not isinstance(step, dict) or "type" not in step:
        raise UsageError(f"{args.step}: must be one step, an object with 'type' and 'parameters'")
    return recipients, step


def campaign_send_command(
    args: argparse.Namespace, console: Console, environ: Mapping[str, str]
) -> int:
    """campaign send: check every row, then send them here or enqueue them for workers."""
    from twilio_component import campaign

    recipients, step = _campaign_input(args)
    _check_broker_flags(args, environ)
    if args.journal is None:
        args.journal = DEFAULT_JOURNAL
    if args.concurrency is None and not args.broker:
        args.concurrency = DEFAULT_CONCURRENCY
    with target(args, console, environ) as (host, connections):
        run = campaign.Campaign(
            host,
            args.campaign,
            step,
            recipients,
            recipients.columns,
            default_region=args.default_region,
            send_window=_window(args),
            skip_landlines=args.skip_landlines,
        )
        try:
            checked = run.check(lambda problem: console.problem(one_line(problem)))
        except ValueError as error:  # the file cannot be read as one row per recipient
            raise UsageError(str(error)) from None
        if checked.problems:
            console.problem(f"nothing was sent ({checked.problems} problem(s)).")
            return EXIT_INVALID
        run.record(checked)
        if args.broker:
            return enqueue_campaign(args, console, host=host, run=run, checked=checked)
        try:
            run.store(checked)
        except ValueError as error:  # the file changed and cannot be read any more
            raise UsageError(str(error)) from None
        connection = connections.for_component(host.component_of(step["type"]))
        with _stopped_by(signal.SIGTERM, signal.SIGHUP):
            summary = campaign.send(
                run,
                connection,
                mps=args.mps,
                concurrency=args.concurrency,
                progress=campaign.plain_progress(console.err, checked.recipients),
                duplicates=checked.duplicates,
            )
    console.result(summary.as_json())
    if summary.interrupted:
        done = summary.sent + summary.failed + summary.unknown - summary.already
        console.problem(
            f"campaign {args.campaign}: interrupted; run the same command again to send the "
            "rest (nothing is sent twice)."
        )
        return EXIT_UNKNOWN if done else 130
    if summary.held:
        console.problem(
            f"campaign {args.campaign}: {summary.held} row(s) held: an earlier attempt may have "
            "been received and Twilio's message log could not tell; they are never sent again "
            "by themselves. campaign report lists them (state held): look each up in Twilio's "
            "log before sending it by hand."
        )
    if summary.deferred:
        console.problem(
            f"campaign {args.campaign}: {summary.deferred} row(s) deferred: the send window is "
            "closed in their local time now; run the same command again inside it to send them "
            "(nothing is sent twice)."
        )
    if summary.journal_error is not None:
        console.problem(
            f"campaign {args.campaign}: the journal could not be written "
            f"({summary.journal_error}): {summary.pending} row(s) were not sent and "
            f"{summary.unknown} were sent but not recorded; free space and run the same command "
            "again (what was sent is looked up first, nothing is sent twice)."
        )
    elif summary.left - summary.held - summary.deferred:
        console.problem(
            f"campaign {args.campaign}: {summary.pending} row(s) refused for now (429, 21611) "
            f"and {summary.unknown} of unknown outcome"
            + (f", {summary.elsewhere} being sent by another process" if summary.elsewhere else "")
            + "; run the same command again to finish (nothing is sent twice)."
        )
    return EXIT_UNKNOWN if summary.left else EXIT_OK
