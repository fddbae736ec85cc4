"""status: an edition's ledger, its locale variants and the senders that worked on it."""

from __future__ import annotations

import click
from rich.table import Table

from digest.cli.app import cli
from digest.cli.common import out, styled, utf8_note, with_config
from digest.cli.language import gettext as _
from digest.cli.language import ngettext
from digest.config import Config
from digest.errors import DigestError
from digest.i18n import N_


@cli.command(help=N_("Show an edition's ledger: sent, failed, skipped, unknown, pending."))
@with_config
@click.argument("edition_id", metavar="EDITION")
def status(config: Config, edition_id):
    from digest.store import ledger
    from digest.store.db import open_database
    from digest.store.editions import get_edition

    db = open_database(config.database_url)
    stored = get_edition(db, edition_id)
    if stored is None:
        raise DigestError(
            _("there is no edition %(edition)s (ids look like <list>-YYYY-MM-DD)")
            % {"edition": repr(edition_id)}
        )
    c = ledger.counts(db, edition_id)
    out.print(styled((stored.id, "bold"), f"  {stored.edition.subject}"))
    out.print(
        "  "
        + _("status %(status)s") % {"status": stored.status}
        + (f": {stored.reason}" if stored.reason else "")
        + (", " + _("backend %(backend)s") % {"backend": stored.backend} if stored.backend else "")
    )
    table = Table(_("total"), *(_(STATES[k]) if k in STATES else k for k in c))
    table.add_row(str(sum(c.values())), *(str(v) for v in c.values()))
    out.print(table)
    _print_variants(db, stored)
    _print_workers(db, edition_id)
    for source, flag in (
        ("failed", _("retried (--retry-failed)")),
        ("unknown", _("resent (--resend-unknown)")),
    ):
        now_in = ledger.requeued(db, edition_id).get(source)
        if now_in:
            out.print(
                f"  {flag}: "
                + _("%(n)s, now %(states)s")
                % {
                    "n": sum(now_in.values()),
                    "states": ", ".join(f"{n} {st}" for st, n in sorted(now_in.items())),
                }
            )
    utf8 = ledger.utf8_local_counts(db, edition_id)
    if utf8:
        out.print(
            f"  {utf8_note(sum(utf8.values()), config)}; "
            + _("here: %(states)s")
            % {"states": ", ".join(f"{n} {st}" for st, n in sorted(utf8.items()))}
        )
    reasons = ledger.failure_reasons(db, edition_id)
    if reasons:
        out.print("  " + _("failed, by reason (--retry-failed --reason TEXT picks some):"))
        for text, n in reasons:
            out.print(f"    {n} × {text}")
    for address, reason in ledger.failures(db, edition_id, limit=10):
        out.print(
            "  " + _("failed %(address)s: %(reason)s") % {"address": address, "reason": reason}
        )


def _print_variants(db, stored) -> None:
    """One line per locale variant (only for an edition with several): who gets which."""
    from digest.locale import match_locale
    from digest.store.variants import reader_locales_of

    variants = stored.all_variants()
    if len(variants) < 2:
        return
    offered = tuple(v.locale for v in variants)
    readers = dict.fromkeys(offered, 0)
    for locale, n in reader_locales_of(db, stored.id).items():
        readers[match_locale(locale, offered, offered[0])] += n
    out.print(
        "  "
        + _("variants: %(n)s (each reader gets their locale's, else %(default)s)")
        % {"n": len(variants), "default": offered[0]}
    )
    for v in variants:
        n = readers[v.locale]
        stories = len(v.edition.ticker) + len(v.edition.featured)
        out.print(
            f"    {v.locale:<6} {v.edition.direction}  "
            + ngettext("%(n)s reader", "%(n)s readers", n) % {"n": f"{n:>6}"}
            + "  "
            + _("%(n)s stories") % {"n": f"{stories:>3}"}
            + f"  {v.edition.subject}",
            soft_wrap=True,
        )


def _print_workers(db, edition_id: str) -> None:
    """The senders that worked on it (several on PostgreSQL with --join), and how each ended."""
    from digest.store.workers import list_workers

    for w in list_workers(db, edition_id):
        state = WORKER_STATES.get(w.status)
        out.print(
            "  "
            + _(
                "worker %(owner)s: %(state)s, %(backend)s, started %(started)s, last seen %(seen)s UTC"
            )
            % {
                "owner": w.owner,
                "state": _(state) if state else w.status,
                "backend": w.backend or "?",
                "started": f"{w.started_at:%Y-%m-%d %H:%M:%S}",
                "seen": f"{w.heartbeat_at:%H:%M:%S}",
            }
            + (", " + _("%(n)s in flight") % {"n": w.sending} if w.sending else "")
        )


# Marked here, translated where printed (the keys are the workers table's values).
WORKER_STATES = {
    "active": N_("sending"),
    "done": N_("done"),
    "paused": N_("paused"),
    "stopped": N_("stopped"),
    "dead": N_("dead (lease expired or process gone: its batch in flight is unknown)"),
}
# The ledger's states as the status table's column titles.
STATES = {
    "pending": N_("pending"),
    "sending": N_("sending"),
    "sent": N_("sent"),
    "failed": N_("failed"),
    "skipped": N_("skipped"),
    "unknown": N_("unknown"),
    "cancelled": N_("cancelled"),
}
