"""approve, editions, health: the editions' state and history, for editors and monitors."""

from __future__ import annotations

import getpass
import json
import sys
from datetime import datetime

import click

from digest.cli.app import cli
from digest.cli.common import EXIT_FAILED, now_or_clock, open_db, out, parse_now, with_config
from digest.cli.language import gettext as _
from digest.config import Config
from digest.i18n import N_


@cli.command(help=N_("Approve a draft that needs an editor's approval before it is sent."))
@with_config
@click.argument("edition_id", metavar="EDITION")
@click.option("--by", default=None, metavar="NAME", help=N_("Who approves (default: your login)."))
def approve(config: Config, edition_id, by):
    from digest.store.editions import approve_edition

    by = by or getpass.getuser()
    approve_edition(open_db(config), edition_id, by=by)
    out.print(_("%(edition)s approved by %(by)s") % {"edition": edition_id, "by": by})


@cli.command(
    help=N_("History: date, list, stories, sent/failed/unknown, duration, status and reason.")
)
@with_config
@click.option("--list", "list_name", metavar="NAME", help=N_("Only this list."))
@click.option("--limit", type=int, default=30, show_default=True)
def editions(config: Config, list_name, limit):
    from digest.store import ledger
    from digest.store.editions import get_edition, list_editions

    db = open_db(config)
    rows = list_editions(db, list_name, limit=limit)
    if not rows:
        out.print(_("no editions yet"))
    # One line per edition, never wrapped: an operator greps this and pastes it into tickets.
    for row in rows:
        stored = get_edition(db, row["id"])
        if stored is None:  # removed between the two reads (a concurrent `digest db` copy)
            continue
        c = ledger.counts(db, row["id"])
        n = len(stored.edition.ticker) + len(stored.edition.featured)
        took = (
            f"{(row['finished_at'] - row['started_at']).total_seconds():.1f}s"
            if row["finished_at"] and row["started_at"]
            else "-"
        )
        state = row["status"]
        if state == "ready" and row["needs_approval"] and not row["approved_at"]:
            state = _("ready, not approved")
        if row["reason"]:
            state += f": {row['reason']}"
        if stored.variants:  # several locales: which ones (a one-locale line is unchanged)
            state += "  " + _("variants") + " " + ",".join(v.locale for v in stored.all_variants())
        figures = _(
            "%(stories)s stories  sent %(sent)s  failed %(failed)s  unknown %(unknown)s"
        ) % {
            "stories": f"{n:>3}",
            "sent": f"{c['sent']:>6}",
            "failed": f"{c['failed']:>4}",
            "unknown": f"{c['unknown']:>3}",
        }
        out.print(
            f"{stored.edition.reference_time:%Y-%m-%d}  {row['list_name']:<12} "
            f"{row['id']:<28} {figures}  {took:>7}  {state}",
            soft_wrap=True,
        )


@cli.command(
    help=N_(
        "One line per scheduled list; exits 1 when one failed, waits for approval or is overdue."
    )
)
@with_config
@click.option("--list", "list_name", metavar="NAME", help=N_("Only this list."))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help=N_("One JSON object (lists, database, schema, scheduler lease) for scripts."),
)
@click.option("--now", callback=parse_now, metavar="ISO8601", hidden=True)
def health(config: Config, list_name, as_json, now):
    from digest.errors import StoreError
    from digest.schedule.health import health as check
    from digest.zones import tzdata_label

    try:
        db = open_db(config)
    except StoreError as exc:
        if not as_json:
            raise
        # A script still gets one JSON object (and exit 1), with the sentence in it.
        click.echo(
            json.dumps(
                {"ok": False, "database": "unavailable", "error": str(exc)},
                ensure_ascii=False,
                indent=2,
            )
        )
        sys.exit(EXIT_FAILED)
    verdicts = check(db, now_or_clock(now), list_name)
    if as_json:
        _health_json(db, now_or_clock(now), list_name, verdicts)
        return
    if not verdicts:
        out.print(
            _("no schedules for list %(list)s") % {"list": list_name}
            if list_name
            else _("no schedules")
        )
    # OK and FAIL stay as they are in every language: monitors grep them.
    for v in verdicts:
        out.print(f"{'OK' if v.ok else 'FAIL'} {v.list_name}: {v.line}")
    # Last, after the verdicts a monitor greps: which time zone data the send times came from.
    out.print(_("time zones: %(tzdata)s") % {"tzdata": tzdata_label()})
    if (not verdicts and list_name) or not all(v.ok for v in verdicts):
        sys.exit(EXIT_FAILED)


def _health_json(db, now: datetime, list_name: str | None, verdicts) -> None:
    """The same verdicts and exit code as the lines, plus what /healthz reports."""
    from digest.status import snapshot
    from digest.zones import tzdata_version

    state = snapshot(db, now, detail=True)
    if list_name:
        state["lists"] = [e for e in state["lists"] if e["list"] == list_name]
    failed = (not verdicts and bool(list_name)) or not all(v.ok for v in verdicts)
    report = {
        "ok": state.pop("ok") and not failed,
        "schedules": [{"list": v.list_name, "ok": v.ok, "line": v.line} for v in verdicts],
        **{k: v for k, v in state.items() if k != "lists"},
        "latest_editions": state["lists"],
        "tzdata": dict(zip(("package", "iana"), tzdata_version(), strict=True)),
    }
    click.echo(json.dumps(report, ensure_ascii=False, indent=2))  # no rich: markup-free
    if not report["ok"]:
        sys.exit(EXIT_FAILED)
