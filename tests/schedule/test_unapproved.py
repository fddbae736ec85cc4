"""The schedule's rule for a draft nobody approved by the send time: skip (the default), send
unapproved (recorded as such), or wait N minutes for an approval, then skip. Real outbox sends,
SQLite and PostgreSQL."""

import threading
from datetime import timedelta

import pytest

from digest.schedule import approval
from digest.schedule.runs import run_draft
from digest.store.editions import approve_edition, get_edition
from digest.store.sendactions import list_actions
from tests.delivery.test_send import subscribe
from tests.schedule.test_scheduled import DAY1, emls, make, send


@pytest.fixture
def drafted(config, db):
    subscribe(
        db,
        [
            ("amina@example.com", "Amina"),
            ("omar@example.org", "Omar"),
            ("sara@example.net", "Sara"),
        ],
    )

    def draft(**kw):
        s = make(db, approval="required", draft_at="07:30", **kw)
        run_draft(config, db, s, DAY1 - timedelta(minutes=30))
        return s

    return draft


def test_skip_is_the_default_and_sends_nothing(config, db, drafted, tmp_path):
    s = drafted()
    assert s.if_unapproved == "skip"
    held = send(config, db, s, DAY1, tmp_path / "out")
    assert held.status == "not-approved" and emls(tmp_path / "out") == []
    assert list_actions(db, held.edition_id) == []


def test_send_sends_unapproved_and_records_it(config, db, drafted, tmp_path):
    s = drafted(if_unapproved="send")
    sent = send(config, db, s, DAY1, tmp_path / "out")
    assert sent.status == "sent" and len(emls(tmp_path / "out")) == 3
    stored = get_edition(db, sent.edition_id)
    assert stored.approved_at is None and stored.approved_by is None  # nobody approved it
    [action] = list_actions(db, sent.edition_id)
    assert (action.action, action.actor) == ("send-unapproved", "schedule:morning")


def test_wait_sends_when_an_editor_approves_in_time(config, db, drafted, tmp_path, monkeypatch):
    monkeypatch.setattr(approval, "MINUTE", 0.5)  # "10 minutes" = 5 s, looked at every 0.04 s
    s = drafted(if_unapproved="wait", unapproved_wait=10)
    edition_id = "matinale-2025-07-01"
    result = {}
    sender = threading.Thread(
        target=lambda: result.update(r=send(config, db, s, DAY1, tmp_path / "out"))
    )
    sender.start()
    for _ in range(200):  # the run is waiting once it has said so
        if list_actions(db, edition_id):
            break
        threading.Event().wait(0.02)
    approve_edition(db, edition_id, by="amina")
    sender.join(30)
    assert result["r"].status == "sent" and len(emls(tmp_path / "out")) == 3
    assert [a.action for a in list_actions(db, edition_id)] == ["wait-for-approval"]


def test_wait_in_vain_skips_like_skip(config, db, drafted, tmp_path, monkeypatch):
    monkeypatch.setattr(approval, "MINUTE", 0.05)
    s = drafted(if_unapproved="wait", unapproved_wait=2)
    held = send(config, db, s, DAY1, tmp_path / "out")
    assert held.status == "not-approved" and emls(tmp_path / "out") == []
    assert "approval" in get_edition(db, held.edition_id).reason
