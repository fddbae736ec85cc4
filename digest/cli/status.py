"""status: an edition's ledger, its locale variants and the senders that worked on it."""

from __future__ import annotations

import click
from rich.table import Table

from digest.cli.app import cli
from digest.cli.common import out, styled, utf8_note, with_config
from digest.config import Config
from digest.errors import DigestError


@cli.command()
@with_config
@click.argument("edition_id", metavar="EDITION")
def status(config: Config, edition_id):
    """Show an edition's ledger: sent, failed, skipped, unknown, pending."""
    from digest.store import ledger
    from digest.store.db import open_database
    from digest.store.editions import get_edition

    db = open_database(config.database_url)
    stored = get_edition(db, edition_id)
    if stored is None:
        raise DigestError(f"there is no edition {edition_id!r} (ids look like <list>-YYYY-MM-DD)")
    c = ledger.counts(db, edition_id)
    out.print(styled((stored.id, "bold"), f"  {stored.edition.subject}"))
    out.print(
        f"  status {stored.status}"
        + (f": {stored.reason}" if stored.reason else "")
        + (f", backend {stored.backend}" if stored.backend else "")
    )
    table = Table(*(k for k in ("total", *c)))
    table.add_row(str(sum(c.values())), *(str(v) for v in c.values()))
    out.print(table)
    _print_variants(db, stored)
    _print_workers(db, edition_id)
    for source, flag in (
        ("failed", "retried (--retry-failed)"),
        ("unknown", "resent (--resend-unknown)"),
    ):
        now_in = ledger.requeued(db, edition_id).get(source)
        if now_in:
            out.print(
                f"  {flag}: {sum(now_in.values())}, now "
                + ", ".join(f"{n} {st}" for st, n in sorted(now_in.items()))
            )
    utf8 = ledger.utf8_local_counts(db, edition_id)
    if utf8:
        out.print(
            f"  {utf8_note(sum(utf8.values()), config)}; here: "
            + ", ".join(f"{n} {st}" for st, n in sorted(utf8.items()))
        )
    reasons = ledger.failure_reasons(db, edition_id)
    if reasons:
        out.print("  failed, by reason (--retry-failed --reason TEXT picks some):")
        for text, n in reasons:
            out.print(f"    {n} × {text}")
    for address, reason in ledger.failures(db, edition_id, limit=10):
        out.print(f"  failed {address}: {reason}")


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
    out.print(f"  variants: {len(variants)} (each reader gets their locale's, else {offered[0]})")
    for v in variants:
        n = readers[v.locale]
        out.print(
            f"    {v.locale:<6} {v.edition.direction}  {n:>6} reader{'' if n == 1 else 's'}  "
            f"{len(v.edition.ticker) + len(v.edition.featured):>3} stories  {v.edition.subject}",
            soft_wrap=True,
        )


def _print_workers(db, edition_id: str) -> None:
    """The senders that worked on it (several on PostgreSQL with --join), and how each ended."""
    from digest.store.workers import list_workers

    for w in list_workers(db, edition_id):
        out.print(
            f"  worker {w.owner}: {WORKER_STATES.get(w.status, w.status)}, "
            f"{w.backend or '?'}, started {w.started_at:%Y-%m-%d %H:%M:%S}, "
            f"last seen {w.heartbeat_at:%H:%M:%S} UTC"
            + (f", {w.sending} in flight" if w.sending else "")
        )


WORKER_STATES = {
    "active": "sending",
    "done": "done",
    "paused": "paused",
    "stopped": "stopped",
    "dead": "dead (lease expired or process gone: its batch in flight is unknown)",
}
