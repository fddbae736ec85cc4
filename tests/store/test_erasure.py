"""Erasure on request: the person's rows go, the ledger keeps its counts unlinked, and only a
hash of the address stays, refusing it to every path that adds or mails someone."""

from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from digest.store import audit
from digest.store import schema as t
from digest.store.csvio import read_subscriber_csv
from digest.store.erasure import erase
from digest.store.erasures import is_erased, key_hash
from digest.store.events import record_event
from digest.store.ledger import counts
from digest.store.preferences import confirm_signup
from digest.store.subscribers import import_subscribers, is_suppressed, suppress, unsubscribe

ADDRESS = "Leila.Bennani@Example.COM"
KEY = "leila.bennani@example.com"


def csv(text: str):
    return read_subscriber_csv(text.encode("utf-8"))


def seeded(db):
    import_subscribers(
        db,
        "matinale",
        csv(f"email,name,locale\n{ADDRESS},Leila Bennani,ar\nomar@example.com,Omar,fr\n"),
    )
    with db.write() as conn:
        sid = conn.scalar(select(t.subscribers.c.id).where(t.subscribers.c.email_key == KEY))
        other = conn.scalar(select(t.subscribers.c.id).where(t.subscribers.c.id != sid))
        list_id = conn.scalar(select(t.lists.c.id))
        now = t.utcnow()
        conn.execute(
            insert(t.editions).values(
                id="matinale-2026-12-01",
                list_id=list_id,
                status="sent",
                subject="s",
                edition_json="{}",
                html="h",
                text="t",
                tokens_json="{}",
                created_at=now,
            )
        )
        conn.execute(
            insert(t.deliveries),
            [
                {
                    "edition_id": "matinale-2026-12-01",
                    "subscriber_id": sid,
                    "status": "sent",
                    "detail": "sg-message-1",
                    "updated_at": now,
                },
                {
                    "edition_id": "matinale-2026-12-01",
                    "subscriber_id": other,
                    "status": "failed",
                    "detail": None,
                    "updated_at": now,
                },
            ],
        )
        delivery = conn.scalar(select(t.deliveries.c.id).where(t.deliveries.c.subscriber_id == sid))
    record_event(
        db,
        sg_event_id="ev1",
        kind="open",
        edition_id="matinale-2026-12-01",
        delivery_id=delivery,
        occurred_at=now,
    )
    audit.record(db, "api-token", "subscribe", target="matinale", detail=ADDRESS)
    suppress(db, ADDRESS, "bounce", "sendgrid-webhook")
    return sid


def test_erase_deletes_the_person_keeps_counts_and_a_hash(db):
    sid = seeded(db)
    done = erase(db, ADDRESS, source="cli:test")
    assert done.subscriber_id == sid and done.ledger_rows == 1 and done.newly
    with db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(t.subscribers)) == 1
        assert (
            conn.scalar(
                select(func.count())
                .select_from(t.memberships)
                .where(t.memberships.c.subscriber_id == sid)
            )
            == 0
        )
        assert conn.scalar(select(t.suppressions.c.email_key)) is None
        assert list(conn.scalars(select(t.erasures.c.key_hash))) == [key_hash(KEY)]
        row = conn.execute(select(t.deliveries).where(t.deliveries.c.subscriber_id.is_(None))).one()
        assert row.status == "sent" and row.detail == "erased"
        assert "[erased]" in conn.scalar(select(t.audit_log.c.detail))
    # The edition's counts stay: one sent (now nobody's), one failed.
    assert counts(db, "matinale-2026-12-01")["sent"] == 1
    assert is_erased(db, ADDRESS.upper()) and is_suppressed(db, ADDRESS)
    assert erase(db, ADDRESS).newly is False  # idempotent


def test_an_erased_address_is_never_added_or_recorded_again(db):
    seeded(db)
    erase(db, ADDRESS)
    report = import_subscribers(
        db, "matinale", csv(f"email,name\n{ADDRESS},Leila\nnew@example.com,N\n")
    )
    assert report.skipped_erased == 1 and report.added == 1 and report.rows == 2
    # A Mailchimp "cleaned" row or an opt-out row does not store the address either.
    report = import_subscribers(
        db, "soir", csv(f"Email Address,MEMBER_RATING,CLEAN_CAMPAIGN_TITLE\n{ADDRESS},1,x\n")
    )
    assert report.skipped_erased == 1
    assert confirm_signup(db, ADDRESS, "matinale") is None
    assert suppress(db, ADDRESS, "bounce") is False  # a late bounce
    assert unsubscribe(db, ADDRESS) == 0
    with db.read() as conn:
        keys = set(conn.scalars(select(t.subscribers.c.email_key)))
        keys |= set(conn.scalars(select(t.suppressions.c.email_key)))
    assert KEY not in keys


@pytest.mark.sqlite_only
def test_the_address_is_gone_from_the_database_file(tmp_path):
    from digest.store.db import open_database

    path = tmp_path / "state" / "digest.db"
    with open_database(f"sqlite:///{path}") as db:
        seeded(db)
        erase(db, ADDRESS)
        files = [p for p in Path(path.parent).iterdir() if p.name.startswith("digest.db")]
        blob = b"".join(p.read_bytes() for p in files).lower()
        assert b"omar@example.com" in blob  # the others are still there
        assert KEY.encode() not in blob and b"leila bennani" not in blob
        assert key_hash(KEY).encode() in blob
