"""digest db current|upgrade|backup|copy, and every other command's refusal, through the CLI."""

import stat
from pathlib import Path

from sqlalchemy import func, select

from digest.store import schema as t
from digest.store.db import open_database
from digest.store.revision import head_revision
from tests.cli.test_cli import digest
from tests.store.pre_migration import make_pre_migration, snapshot

NEXT_DAY = "2025-07-02T08:00:00+01:00"


def test_a_database_from_before_migrations_is_upgraded_in_place_and_sends(site, config, tmp_path):
    url = config.database_url
    make_pre_migration(url)
    before = snapshot(url)
    # What the fixture holds (so the comparison below compares something).
    assert len(before["subscribers"]) == 7 and len(before["lists"]) == 2
    assert sorted(m[2] for m in before["memberships"]) == ["active"] * 7 + ["unsubscribed"]
    assert len(before["suppressions"]) == 2 and len(before["editions"]) == 2
    assert sorted(d[3] for d in before["deliveries"]) == [
        "failed",
        "sent",
        "sent",
        "sent",
        "sent",
        "skipped",
        "skipped",
        "unknown",
    ]
    assert len(before["events"]) == 3 and len(before["schedules"]) == 2
    assert len(before["feed_cache"]) == 1 and len(before["scheduler_lease"]) == 1

    for command in (
        ["editions"],
        ["status", "matinale-2025-07-01"],
        ["send", "--list", "matinale", "--now", NEXT_DAY],
    ):
        refused = digest(*command, cwd=tmp_path, check=False)
        assert refused.returncode == 2, refused.stderr
        assert "Traceback" not in refused.stderr
        assert " ".join(refused.stderr.split()) == (
            "error: the database is at no revision (it was made before digest had "
            f"migrations); this digest needs {head_revision()}: run `digest db upgrade`"
        )

    current = digest("db", "current", cwd=tmp_path, check=False)
    assert current.returncode == 1 and "revision: none" in current.stdout

    upgraded = digest("db", "upgrade", cwd=tmp_path)
    assert f"upgraded: none -> {head_revision()}" in upgraded.stdout
    assert snapshot(url) == before
    if url.startswith("sqlite:"):
        [backup] = Path(url.removeprefix("sqlite:///")).parent.glob("digest.db.bak-none-*")
        assert stat.S_IMODE(backup.stat().st_mode) == 0o600
        assert snapshot(f"sqlite:///{backup}") == before
    assert "up to date" in digest("db", "current", cwd=tmp_path).stdout
    assert "nothing to do" in digest("db", "upgrade", cwd=tmp_path).stdout

    digest(
        "send",
        "--list",
        "matinale",
        "--backend",
        "outbox",
        "--now",
        NEXT_DAY,
        "--out",
        str(tmp_path / "outbox"),
        cwd=tmp_path,
        env_extra={"DIGEST_SECRET_KEY": "k" * 40},
    )
    # matinale has 5 members; two are suppressed (a bounce by the CLI, one by the webhook).
    assert len(list((tmp_path / "outbox").rglob("*.eml"))) == 3
    with open_database(url) as db, db.read() as conn:
        sent = conn.execute(
            select(t.deliveries.c.status, func.count())
            .where(t.deliveries.c.edition_id == "matinale-2025-07-02")
            .group_by(t.deliveries.c.status)
        ).all()
    assert dict(sent) == {"sent": 3, "skipped": 2}
    assert snapshot(url, ["subscribers", "memberships", "suppressions", "schedules"]) == {
        k: before[k] for k in ("subscribers", "memberships", "suppressions", "schedules")
    }


def test_db_current_on_a_new_database_and_backup_refusals(site, config, tmp_path):
    with open_database(config.database_url):
        pass
    current = digest("db", "current", cwd=tmp_path)
    head = head_revision()
    assert current.stdout.split() == ["revision:", head, "head:", head, "up", "to", "date"]
    backup = digest("db", "backup", str(tmp_path / "b.db"), cwd=tmp_path, check=False)
    if config.database_url.startswith("sqlite:"):
        assert backup.returncode == 0 and (tmp_path / "b.db").is_file()
        again = digest("db", "backup", str(tmp_path / "b.db"), cwd=tmp_path, check=False)
        assert again.returncode == 1 and "already exists" in again.stderr
    else:
        assert backup.returncode == 1 and "pg_dump" in backup.stderr
        assert "Traceback" not in backup.stderr and not (tmp_path / "b.db").exists()
