"""The web app's store modules: SendGrid events and subscribers' own preferences."""

from datetime import UTC, datetime

from digest.store.csvio import read_subscriber_csv
from digest.store.events import edition_counts, record_event
from digest.store.preferences import confirm_signup, memberships_of, set_locale, set_membership
from digest.store.subscribers import get_subscriber, import_subscribers, is_suppressed, unsubscribe

WHEN = datetime(2025, 7, 1, 7, 0, tzinfo=UTC)


def test_events_deduplicate_and_count_per_edition(db):
    def rec(sg_id, kind, edition="matinale-2025-07-01", suppress=None):
        return record_event(
            db,
            sg_event_id=sg_id,
            kind=kind,
            edition_id=edition,
            delivery_id=3,
            occurred_at=WHEN,
            suppress=suppress,
        )

    assert rec("a", "delivered") and rec("b", "open") and rec("c", "open")
    assert not rec("a", "delivered")  # a retry of the same event
    assert rec("d", "bounce", suppress=("x@example.com", "bounce"))
    assert not rec("d", "bounce", suppress=("x@example.com", "bounce"))
    assert rec("e", "click", edition="other-2025-07-01")
    assert edition_counts(db, "matinale-2025-07-01") == {"delivered": 1, "open": 2, "bounce": 1}
    assert is_suppressed(db, "X@example.com")


def test_preferences_and_confirmed_signup(db):
    import_subscribers(db, "matinale", read_subscriber_csv(b"email\nc@example.com\n"))
    sid = confirm_signup(db, "c@example.com", "soir", locale="ar", title="Le soir")
    assert memberships_of(db, sid) == {"matinale": "active", "soir": "active"}
    set_membership(db, sid, "matinale", False)
    set_membership(db, sid, "matinale", False)  # idempotent
    assert memberships_of(db, sid)["matinale"] == "unsubscribed"
    set_membership(db, sid, "matinale", True)
    assert memberships_of(db, sid)["matinale"] == "active"
    set_locale(db, sid, "en")
    assert get_subscriber(db, sid).locale == "en"

    unsubscribe(db, "c@example.com")  # everything: suppressed
    assert is_suppressed(db, "c@example.com")
    again = confirm_signup(db, "C@example.com", "matinale")
    assert again == sid and not is_suppressed(db, "c@example.com")
    assert memberships_of(db, sid)["matinale"] == "active"

    new = confirm_signup(db, "new@example.com", "matinale")
    assert memberships_of(db, new) == {"matinale": "active"}
