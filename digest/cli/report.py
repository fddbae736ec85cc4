"""What a send prints when it ends (the ledger's figures and what to do next), and Ctrl-C /
SIGTERM turned into "stop after the batch in flight": shared by ``digest send`` and the
scheduler's foreground runner."""

from __future__ import annotations

import contextlib
import signal

from rich.table import Table

from digest.cli.common import err, out, styled


@contextlib.contextmanager
def stop_on_signals(stop):
    """Ctrl-C or SIGTERM: finish the batch in flight, record it, leave the edition resumable."""

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C means now
        stop.set()
        err.print(styled(("stopping after the batch in flight...", "yellow")))

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def print_report(report) -> None:
    table = Table(title=f"{report.edition_id} via {report.backend}: {report.status}")
    for col in (
        "members",
        "sent",
        "skipped",
        "failed",
        "unknown",
        "pending",
        "cancelled",
        "requests",
        "seconds",
    ):
        table.add_column(col, justify="right")
    table.add_row(
        *(
            str(v)
            for v in (
                report.total,
                report.sent,
                report.skipped,
                report.failed,
                report.unknown,
                report.pending,
                report.cancelled,
                report.requests,
            )
        ),
        f"{report.seconds:.2f}",
    )
    out.print(table)
    if report.backend == "outbox":
        out.print(f"messages in {report.destination}")
    for address, reason in report.failures[:10]:
        err.print(styled(("failed", "red"), f" {address}: {reason}"))
    if report.retried or report.resent:
        out.print(
            f"put back by the operator: {report.retried} failed (--retry-failed), "
            f"{report.resent} unknown (--resend-unknown)"
        )
    if report.failed and report.status != "cancelled":
        err.print(
            styled(
                (f"{report.failed} delivery(ies) failed and were not sent again.", "yellow"),
                " Once the cause is fixed, run the same command with --retry-failed "
                "(--reason TEXT for some of them).",
            )
        )
    if report.newly_unknown:
        err.print(
            styled(
                (
                    f"{report.newly_unknown} message(s) were in flight when an earlier "
                    "run stopped: they may or may not have arrived, and were not sent "
                    "again. Run again with --resend-unknown to send them (some may arrive "
                    "twice).",
                    "yellow",
                )
            )
        )
    if report.status == "cancelled":
        err.print(
            styled(
                ("cancelled:", "yellow"),
                f" {report.reason}; {report.cancelled} deliveries were not sent and will not be.",
            )
        )
    elif report.status != "sent":
        err.print(
            styled(
                ("paused:", "yellow"),
                f" {report.reason}. Run the same command again to resume; "
                f"'digest status {report.edition_id}' shows the ledger.",
            )
        )
