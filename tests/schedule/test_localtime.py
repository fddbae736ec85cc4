"""Local-time schedules: each reader at 07:00 in their own zone, one edition, one ledger.

Fake clock as in test_schedule.py: the fire times come from the schedule's trigger, and each is
handed to the send-time run as its ``now``; the real outbox and database record who got what.
"""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from digest.schedule.health import health
from digest.schedule.localtime import send_trigger
from digest.schedule.runs import run_draft, run_send
from digest.store import schema as t
from digest.store.editions import get_edition
from digest.store.readerzones import member_zones
from digest.store.schedules import Schedule, add_schedule, get_schedule
from digest.tokens import TokenSigner
from digest.zones import zone
from tests.delivery.test_send import subscribe

SIGNER = TokenSigner("k" * 40)
GROUPS = {  # zone (None: the subscriber has none, so the site's) -> readers
    "Africa/Casablanca": ["amina@example.com", "omar@example.org"],
    None: ["nozone@example.com"],
    "Europe/Paris": ["claire@example.fr"],
    "America/New_York": ["john@example.com", "mary@example.com"],
    "Asia/Tokyo": ["yuki@example.jp"],  # east of the site: 07:00 there is the site's evening
}
SITE = "Africa/Casablanca"


@pytest.fixture
def readers(db):
    subscribe(db, [(e, e.split("@")[0]) for emails in GROUPS.values() for e in emails])
    with db.write() as conn:
        for name, emails in GROUPS.items():
            conn.execute(
                update(t.subscribers).where(t.subscribers.c.email.in_(emails)).values(timezone=name)
            )


def local_schedule(db, **kw):
    add_schedule(
        db,
        Schedule(
            name="local",
            list_name="matinale",
            cron="0 7 * * *",
            timezone=SITE,
            local_time=True,
            **kw,
        ),
        replace=True,
    )
    return get_schedule(db, "local")


def sent_to(db) -> dict[str, set[str]]:
    """{edition: addresses whose ledger row is sent}."""
    d, s = t.deliveries, t.subscribers
    with db.read() as conn:
        rows = conn.execute(
            select(d.c.edition_id, s.c.email)
            .join(s, s.c.id == d.c.subscriber_id)
            .where(d.c.status == "sent")
        ).all()
    out: dict[str, set[str]] = {}
    for edition, email in rows:
        out.setdefault(edition, set()).add(email)
    return out


def zone_of(name):
    return SITE if name is None else name


@pytest.mark.parametrize(
    "day",
    [
        date(2025, 7, 1),  # summer; Casablanca UTC+1 then
        date(2026, 3, 8),  # New York springs forward (02:00 -> 03:00) that morning
        date(2026, 3, 29),  # Paris springs forward that morning
        date(2026, 11, 1),  # New York falls back (01:00 twice) that morning
    ],
)
def test_each_group_gets_the_days_edition_at_its_own_seven_and_nobody_twice(
    config, db, readers, tmp_path, day
):
    s = local_schedule(db)
    zones = member_zones(db, "matinale", SITE)
    assert zones == sorted({zone_of(z) for z in GROUPS})
    trigger = send_trigger(s, zones)
    # Every zone's 07:00 of ``day``, computed independently with zoneinfo.
    expected = {
        datetime(day.year, day.month, day.day, 7, tzinfo=zone(zone_of(z))).astimezone(UTC): zone_of(
            z
        )
        for z in GROUPS
    }
    start = min(expected) - timedelta(hours=1)
    fires, prev, now = [], None, start
    while (nxt := trigger.get_next_fire_time(prev, now)) <= max(expected):
        fires.append(nxt)
        prev, now = nxt, nxt + timedelta(seconds=1)
    assert fires == sorted(expected)  # one firing per zone, at its own 07:00

    out = tmp_path / "out"
    edition = f"matinale-{day:%Y-%m-%d}"
    before: set[str] = set()
    for fire in fires:
        result = run_send(config, db, s, fire, out_dir=out, signer=SIGNER)
        assert result.edition_id == edition, result
        now_sent = sent_to(db)[edition]
        firing = expected[fire]
        assert now_sent - before == {
            e for z, emails in GROUPS.items() if zone_of(z) == firing for e in emails
        }, fire
        before = now_sent
        status = get_edition(db, edition).status
        assert status == ("sent" if fire == fires[-1] else "sending"), (fire, status)
        [verdict] = health(db, fire + timedelta(minutes=1))
        assert verdict.ok, verdict.line
    assert sent_to(db) == {edition: {e for emails in GROUPS.values() for e in emails}}
    assert len(list(out.glob("*.eml"))) == sum(len(v) for v in GROUPS.values())  # nobody twice

    # A second firing (restart, DST repeat) sends nothing more.
    again = run_send(config, db, s, fires[-1] + timedelta(minutes=5), out_dir=out, signer=SIGNER)
    assert again.status == "done"
    assert len(list(out.glob("*.eml"))) == sum(len(v) for v in GROUPS.values())


def test_the_edition_is_the_site_days_built_once_before_the_earliest_zone(
    config, db, readers, tmp_path
):
    """Tokyo's 07:00 on 1 July is 23:00 on 30 June at the site: the edition built then is the
    site's 1 July edition (reference time 00:00 there), and the later zones get it as stored."""
    s = local_schedule(db, draft_at="06:30")
    tokyo_draft = datetime(2025, 6, 30, 21, 30, tzinfo=UTC)  # 06:30 JST on 1 July
    drafted = run_draft(config, db, s, tokyo_draft)
    assert drafted.edition_id == "matinale-2025-07-01"
    stored = get_edition(db, drafted.edition_id)
    assert stored.edition.reference_time == datetime(2025, 7, 1, tzinfo=zone(SITE))
    created = stored.created_at
    out = tmp_path / "out"
    tokyo = run_send(
        config, db, s, datetime(2025, 6, 30, 22, tzinfo=UTC), out_dir=out, signer=SIGNER
    )
    assert tokyo.edition_id == drafted.edition_id and tokyo.status == "sent"
    assert sent_to(db) == {drafted.edition_id: {"yuki@example.jp"}}
    paris = run_send(config, db, s, datetime(2025, 7, 1, 5, tzinfo=UTC), out_dir=out, signer=SIGNER)
    assert paris.edition_id == drafted.edition_id
    assert sent_to(db) == {drafted.edition_id: {"yuki@example.jp", "claire@example.fr"}}
    assert get_edition(db, drafted.edition_id).created_at == created  # not rebuilt


def test_a_reader_who_moved_to_a_zone_already_past_is_caught_up_once(config, db, readers, tmp_path):
    s = local_schedule(db)
    out = tmp_path / "out"
    run_send(config, db, s, datetime(2025, 7, 1, 5, tzinfo=UTC), out_dir=out, signer=SIGNER)
    # Between Paris and Casablanca, a New York reader says she now lives in Paris.
    with db.write() as conn:
        conn.execute(
            update(t.subscribers)
            .where(t.subscribers.c.email == "mary@example.com")
            .values(timezone="Europe/Paris")
        )
    run_send(config, db, s, datetime(2025, 7, 1, 6, tzinfo=UTC), out_dir=out, signer=SIGNER)
    assert "mary@example.com" in sent_to(db)["matinale-2025-07-01"]
    assert "john@example.com" not in sent_to(db)["matinale-2025-07-01"]
    run_send(config, db, s, datetime(2025, 7, 1, 11, tzinfo=UTC), out_dir=out, signer=SIGNER)
    assert len(list(out.glob("*.eml"))) == sum(len(v) for v in GROUPS.values())


def test_the_scheduler_job_fires_at_the_earliest_zone_and_follows_new_zones(config, db, readers):
    from digest.schedule.scheduler import make_scheduler, sync_jobs

    s = local_schedule(db)
    scheduler = make_scheduler(db)
    scheduler.start(paused=True)  # the job store is live, nothing runs on the real clock
    try:

        def zones_of(schedule):
            return member_zones(db, schedule.list_name, SITE)

        now = datetime(2025, 6, 30, 12, tzinfo=UTC)
        sync_jobs(scheduler, [s], now=now, zones_of=zones_of)
        job = scheduler.get_job("send:local")
        # Tokyo's 07:00 on 1 July comes first (22:00 UTC on 30 June).
        assert job.next_run_time == datetime(2025, 6, 30, 22, tzinfo=UTC)
        assert "local_time=" in job.name and "Asia/Tokyo" in job.name
        # A reader in a new zone: the job is replaced with that zone's time too.
        with db.write() as conn:
            conn.execute(
                update(t.subscribers)
                .where(t.subscribers.c.email == "yuki@example.jp")
                .values(timezone="Pacific/Kiritimati")
            )  # UTC+14: 17:00 UTC
        sync_jobs(scheduler, [s], now=now, zones_of=zones_of)
        assert scheduler.get_job("send:local").next_run_time == datetime(
            2025, 6, 30, 17, tzinfo=UTC
        )
    finally:
        scheduler.shutdown()
