"""Stored editions: the approval gate, editors' changes, skipping."""

from datetime import datetime

import pytest

from digest.edition.build import build_edition
from digest.errors import DigestError
from digest.store.csvio import read_subscriber_csv
from digest.store.editions import (
    AlreadySent,
    NotApproved,
    approve_edition,
    claim_edition,
    get_edition,
    new_owner,
    replace_rendering,
    save_edition,
    skip_edition,
)
from digest.store.subscribers import import_subscribers
from tests.conftest import SAMPLE_NOW


@pytest.fixture
def built(config, db):
    import_subscribers(db, "matinale", read_subscriber_csv(b"email\na@example.com\n"))
    return build_edition(config, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW))


def test_a_draft_needing_approval_is_not_sent_until_approved(db, built):
    save_edition(db, built.edition, built.rendered, needs_approval=True)
    with pytest.raises(NotApproved, match="waits for an editor's approval"):
        claim_edition(db, built.edition.id, new_owner(), backend="outbox")
    approve_edition(db, built.edition.id, by="Salma <redaction@example.com>")
    stored = get_edition(db, built.edition.id)
    assert stored.approved_by == "Salma <redaction@example.com>" and stored.approved_at
    assert claim_edition(db, built.edition.id, new_owner(), backend="outbox") == "ready"


def test_an_edit_withdraws_approval_and_is_refused_once_sending(db, built):
    save_edition(db, built.edition, built.rendered, needs_approval=True)
    approve_edition(db, built.edition.id, by="editor")
    replace_rendering(
        db, built.edition.id, built.edition, built.rendered, edits={"note": "Bonne lecture"}
    )
    stored = get_edition(db, built.edition.id)
    assert stored.approved_at is None and stored.edits == {"note": "Bonne lecture"}
    approve_edition(db, built.edition.id, by="editor")
    claim_edition(db, built.edition.id, new_owner(), backend="outbox")
    with pytest.raises(DigestError, match="can no longer be changed"):
        replace_rendering(db, built.edition.id, built.edition, built.rendered, edits=None)


def test_a_skipped_edition_is_never_sent(db, built):
    save_edition(db, built.edition, built.rendered)
    skip_edition(db, built.edition.id, reason="nothing new since yesterday")
    stored = get_edition(db, built.edition.id)
    assert (stored.status, stored.reason) == ("skipped", "nothing new since yesterday")
    with pytest.raises(AlreadySent, match="skipped on purpose"):
        claim_edition(db, built.edition.id, new_owner(), backend="outbox")


def test_storing_the_same_edition_twice_is_refused_by_name(db, built):
    from digest.store.editions import EditionExists

    save_edition(db, built.edition, built.rendered)
    with pytest.raises(EditionExists, match="stored already"):
        save_edition(db, built.edition, built.rendered)
