"""Progress of a long campaign on stderr: a bar on a terminal, else a plain line now and then."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from twilio_component.campaign.runner import Summary

__all__ = ["PROGRESS_EVERY", "plain_progress"]

#: How often a plain progress line is printed when stderr is not a terminal.
PROGRESS_EVERY = 2.0


def plain_progress(err: TextIO, total: int) -> Callable[[Summary], None]:
    """A progress reporter: a tqdm bar when ``err`` is a terminal and tqdm is installed
    (``pip install 'twilio-component[progress]'``), else one plain line every few seconds."""
    if err.isatty():
        try:
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            bar = tqdm(total=total, file=err, unit="msg", dynamic_ncols=True)

            def advance(summary: Summary) -> None:
                done = summary.done
                bar.update(done - bar.n)
                bar.set_postfix(sent=summary.sent, failed=summary.failed, unknown=summary.unknown)
                if done >= total:
                    bar.close()

            return advance
    last = [0.0]

    def line(summary: Summary) -> None:
        done = summary.done
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY or done >= total:
            last[0] = now
            err.write(
                f"campaign {summary.campaign}: {done}/{total} done, {summary.sent} sent, "
                f"{summary.failed} failed, {summary.unknown} unknown, {summary.pending} left "
                f"for a rerun, {summary.elapsed:.1f} s\n"
            )
            err.flush()

    return line
