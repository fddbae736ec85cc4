"""Shared by the statistics tests: an edition sent to the outbox, and SendGrid's signed events
about it posted to the webhook."""

from sqlalchemy import select

from digest.delivery.loop import deliver
from digest.delivery.outbox import OutboxBackend
from digest.store import schema as t
from digest.store.editions import approve_edition, get_edition
from tests.web.conftest import events_body, sign
from tests.web.test_subscribers import SIGNER

STORY_A = "https://www.example.ma/a"
STORY_B = "https://www.example.ma/b"


def send(config, db, draft, out):
    """The draft approved and sent to an outbox; its ledger rows' ids, in order."""
    approve_edition(db, draft.id, by="test")
    deliver(config, db, get_edition(db, draft.id), OutboxBackend(out), signer=SIGNER)
    with db.read() as conn:
        return list(
            conn.scalars(
                select(t.deliveries.c.id)
                .where(t.deliveries.c.edition_id == draft.id)
                .order_by(t.deliveries.c.id)
            )
        )


def event(kind, n, edition_id, delivery_id, **extra):
    return {
        "event": kind,
        "email": f"r{delivery_id}@example.com",
        "timestamp": 1751353200,
        "sg_event_id": f"ev-{kind}-{n}",
        "edition_id": edition_id,
        "delivery_id": str(delivery_id),
        **extra,
    }


def readers_events(edition_id, rows):
    """What SendGrid would say of a send to ``rows`` (at least five ledger rows)."""
    r = rows
    return [
        *(event("delivered", i, edition_id, d) for i, d in enumerate(r[:4])),
        event("open", 1, edition_id, r[0]),
        event("open", 2, edition_id, r[0]),  # the same reader again: one unique open
        event("open", 3, edition_id, r[1], sg_machine_open=True),  # Apple's pre-fetch
        event("open", 4, edition_id, r[2]),
        event("click", 1, edition_id, r[0], url=STORY_A),
        event("click", 2, edition_id, r[0], url=STORY_A),
        event("click", 3, edition_id, r[2], url=STORY_B),
        event("unsubscribe", 1, edition_id, r[2]),
        event("bounce", 1, edition_id, r[4], type="bounce"),
        event("spamreport", 1, edition_id, r[3]),
    ]


def post_events(http_post, key, events):
    body = events_body(*events)
    response = http_post(body, sign(key, body))
    assert response.status_code == 200, response.text
    return response


def earlier_editions(config, db, days, out):
    """``days`` editions of the days before the sample's, sent: {edition id: ledger rows}."""
    from datetime import datetime, timedelta

    from digest.edition.build import build_edition
    from digest.store.editions import save_edition
    from tests.conftest import SAMPLE_NOW

    sent = {}
    for n in range(days, 0, -1):
        now = datetime.fromisoformat(SAMPLE_NOW) - timedelta(days=n)
        built = build_edition(config, list_name="matinale", now=now)
        save_edition(db, built.edition, built.rendered, needs_approval=False)
        stored = get_edition(db, built.edition.id)
        deliver(config, db, stored, OutboxBackend(out / stored.id), signer=SIGNER)
        with db.read() as conn:
            sent[stored.id] = list(
                conn.scalars(
                    select(t.deliveries.c.id).where(t.deliveries.c.edition_id == stored.id)
                )
            )
    return sent


def varied_events(sent):
    """Each earlier edition delivered to all, opened and clicked by more readers each day."""
    events = []
    for day, (edition_id, rows) in enumerate(sent.items()):
        events += [event("delivered", f"{edition_id}-{d}", edition_id, d) for d in rows]
        opened = rows[: 3 + day % 5]
        events += [event("open", f"{edition_id}-{d}", edition_id, d) for d in opened]
        events += [
            event("click", f"{edition_id}-{d}", edition_id, d, url=STORY_A)
            for d in opened[: 1 + day % 3]
        ]
    return events
