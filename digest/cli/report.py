"""What a send prints when it ends (the ledger's figures and what to do next), and Ctrl-C /
SIGTERM turned into "stop after the batch in flight": shared by ``digest send`` and the
scheduler's foreground runner. Also what a build prints (``digest build``, a send's first run)."""

from __future__ import annotations

import contextlib
import signal

from rich.table import Table

from digest.cli.common import err, out, styled
from digest.cli.language import gettext as _


@contextlib.contextmanager
def stop_on_signals(stop):
    """Ctrl-C or SIGTERM: finish the batch in flight, record it, leave the edition resumable."""

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C means now
        stop.set()
        err.print(styled((_("stopping after the batch in flight..."), "yellow")))

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def print_report(report) -> None:
    table = Table(
        title=_("%(edition)s via %(backend)s: %(status)s")
        % {"edition": report.edition_id, "backend": report.backend, "status": report.status}
    )
    for col in (
        _("members"),
        _("sent"),
        _("skipped"),
        _("failed"),
        _("unknown"),
        _("pending"),
        _("cancelled"),
        _("requests"),
        _("seconds"),
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
        out.print(_("messages in %(folder)s") % {"folder": report.destination})
    for address, reason in report.failures[:10]:
        err.print(styled((_("failed"), "red"), f" {address}: {reason}"))
    if report.retried or report.resent:
        out.print(
            _(
                "put back by the operator: %(retried)s failed (--retry-failed), "
                "%(resent)s unknown (--resend-unknown)"
            )
            % {"retried": report.retried, "resent": report.resent}
        )
    if report.failed and report.status != "cancelled":
        err.print(
            styled(
                (
                    _("%(n)s delivery(ies) failed and were not sent again.") % {"n": report.failed},
                    "yellow",
                ),
                " ",
                _(
                    "Once the cause is fixed, run the same command with --retry-failed "
                    "(--reason TEXT for some of them)."
                ),
            )
        )
    if report.newly_unknown:
        err.print(
            styled(
                (
                    _(
                        "%(n)s message(s) were in flight when an earlier run stopped: they "
                        "may or may not have arrived, and were not sent again. Run again with "
                        "--resend-unknown to send them (some may arrive twice)."
                    )
                    % {"n": report.newly_unknown},
                    "yellow",
                )
            )
        )
    if report.status == "cancelled":
        err.print(
            styled(
                (_("cancelled:"), "yellow"),
                " ",
                _("%(reason)s; %(n)s deliveries were not sent and will not be.")
                % {"reason": report.reason, "n": report.cancelled},
            )
        )
    elif report.status != "sent":
        err.print(
            styled(
                (_("paused:"), "yellow"),
                " ",
                _(
                    "%(reason)s. Run the same command again to resume; "
                    "'digest status %(edition)s' shows the ledger."
                )
                % {"reason": report.reason, "edition": report.edition_id},
            )
        )


def print_build(built) -> None:
    """What ``digest build`` and a send's first run print: warnings, figures, sources, files."""
    for warning in built.warnings:
        err.print(styled((_("warning:"), "yellow"), f" {warning}"))
    e = built.edition
    html_kb = len(built.rendered.html.encode("utf-8")) / 1024
    out.print(styled((e.id, "bold"), f"  {e.subject}"))
    out.print(
        "  "
        + _(
            "%(headlines)s headlines, %(featured)s featured, HTML %(size)s KB, "
            "window %(start)s -> %(end)s"
        )
        % {
            "headlines": len(e.ticker),
            "featured": len(e.featured),
            "size": f"{html_kb:.1f}",
            "start": f"{e.window_start:%Y-%m-%d %H:%M}",
            "end": f"{e.reference_time:%Y-%m-%d %H:%M %z}",
        }
    )
    for src in e.sources:
        state = (_("ok"), "green") if src.ok else (_("failed"), "red")
        out.print(
            styled(
                "  "
                + _("source %(name)s: %(n)s stories") % {"name": src.name, "n": len(src.stories)}
                + " ",
                state,
                "" if src.ok else f" {src.error}",
            )
        )
    for v in built.variants:
        out.print(
            styled(
                ("  " + _("variant %(locale)s") % {"locale": v.locale}, "bold"),
                f" ({v.edition.direction}) {v.edition.subject}",
            )
        )
        out.print(
            "    "
            + _("%(headlines)s headlines, %(featured)s featured")
            % {"headlines": len(v.edition.ticker), "featured": len(v.edition.featured)}
        )
    for kind, path in built.paths.items():
        out.print(f"  {kind}: {path}")
