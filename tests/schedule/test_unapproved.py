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


def test_a_waiting_draft_is_mailed_to_the_editors_once(site, db, tmp_path):
    from email import message_from_bytes
    from email.policy import default

    from digest.config import load_config
    from digest.errors import ConfigError

    with open(site, "a", encoding="utf-8") as fh:
        fh.write('\n[editor_emails]\namina = "amina@example.ma"\nomar = "omar@example.ma"\n')
    config = load_config(site, env={})
    subscribe(db, [("reader@example.com", "Reader")])
    s = make(db, approval="required", draft_at="07:30", if_unapproved="send")
    out = tmp_path / "out"
    for _ in range(2):  # the draft time firing twice mails once
        run_draft(config, db, s, DAY1 - timedelta(minutes=30), out_dir=out)
    notices = sorted(out.glob("notice-*.eml"))
    assert len(notices) == 2
    mails = [message_from_bytes(p.read_bytes(), policy=default) for p in notices]
    assert sorted(m["To"] for m in mails) == ["amina@example.ma", "omar@example.ma"]
    body = mails[0].get_body(("plain",)).get_content()
    assert "https://www.example.ma/digest/editions/matinale-2025-07-01" in body
    # In the site's language (French), through the catalogs.
    assert "à l’heure d’envoi, elle part sans validation." in body
    assert mails[0]["Subject"].startswith("En attente de validation")
    [action] = list_actions(db, "matinale-2025-07-01")
    assert action.action == "approval-requested" and action.detail == "mailed amina, omar"

    with open(site, "a", encoding="utf-8") as fh:
        fh.write('sara = "not an address"\n')
    with pytest.raises(ConfigError, match=r"key 'editor_emails.sara': must be an email address"):
        load_config(site, env={})


def test_a_draft_needing_no_approval_mails_nobody(site, db, tmp_path):
    from digest.config import load_config

    with open(site, "a", encoding="utf-8") as fh:
        fh.write('\n[editor_emails]\namina = "amina@example.ma"\n')
    config = load_config(site, env={})
    s = make(db, approval="auto", draft_at="07:30")
    run_draft(config, db, s, DAY1 - timedelta(minutes=30), out_dir=tmp_path / "out")
    assert list((tmp_path / "out").glob("notice-*.eml")) == []
