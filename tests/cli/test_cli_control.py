"""digest api-token create / list / revoke, digest pause and digest cancel (recorded in the
send audit like the web app's actions), through the real command line."""

from datetime import datetime

from digest.edition.build import build_edition
from digest.store.api_tokens import check_token
from digest.store.editions import save_edition
from digest.store.sendactions import list_actions
from digest.store.subscribers import ensure_list
from tests.cli.test_cli import digest
from tests.conftest import SAMPLE_NOW


def test_api_tokens_are_made_shown_once_listed_without_it_and_revoked(site, db, tmp_path):
    made = digest("api-token", "create", "--name", "dashboard", "--scope", "read", cwd=tmp_path)
    token = made.stdout.strip()
    assert token.startswith("dgt_") and "shown only now" in made.stderr
    assert check_token(db, token).scope == "read"
    listed = digest("api-token", "list", cwd=tmp_path)
    assert "dashboard" in listed.stdout and token not in listed.stdout
    twice = digest(
        "api-token", "create", "--name", "dashboard", "--scope", "write", cwd=tmp_path, check=False
    )
    assert twice.returncode == 1 and "already" in twice.stderr and "Traceback" not in twice.stderr
    bad = digest(
        "api-token", "create", "--name", "dash", "--scope", "admin", cwd=tmp_path, check=False
    )
    assert bad.returncode == 2  # click refuses the scope
    assert "revoked" in digest("api-token", "revoke", "dashboard", cwd=tmp_path).stdout
    assert check_token(db, token) is None
    assert "already" in digest("api-token", "revoke", "dashboard", cwd=tmp_path).stdout
    unknown = digest("api-token", "revoke", "nobody", cwd=tmp_path, check=False)
    assert unknown.returncode == 1 and "no API token named 'nobody'" in unknown.stderr


def test_pause_refuses_an_edition_not_being_sent_and_cancel_is_recorded(site, config, db, tmp_path):
    built = build_edition(config, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW))
    ensure_list(db, "matinale")
    save_edition(db, built.edition, built.rendered)
    edition_id = built.edition.id
    paused = digest("pause", edition_id, cwd=tmp_path, check=False)
    assert paused.returncode == 1 and "nothing is being sent" in paused.stderr
    assert "Traceback" not in paused.stderr
    digest("cancel", edition_id, "--reason", "wrong day", cwd=tmp_path)
    [action] = list_actions(db, edition_id)
    assert action.action == "cancel" and action.actor.startswith("cli")
    assert action.detail == "wrong day"


def test_schedule_add_takes_the_unapproved_rule(site, db, tmp_path):
    base = ("schedule", "add", "morning", "--list", "matinale", "--cron", "0 7 * * *")
    lone = digest(
        *base, "--approval", "required", "--if-unapproved", "wait", cwd=tmp_path, check=False
    )
    assert lone.returncode == 2 and "--wait-minutes" in lone.stderr
    digest(
        *base,
        "--approval",
        "required",
        "--if-unapproved",
        "wait",
        "--wait-minutes",
        "20",
        cwd=tmp_path,
    )
    listed = " ".join(digest("schedule", "list", cwd=tmp_path).stdout.split())  # rich wraps
    assert "approval required (if unapproved: wait 20 min)" in listed


def test_digest_send_goes_through_send_control_and_is_recorded(site, db, tmp_path):
    from tests.conftest import EXAMPLE_CSV

    digest("subscribers", "import", str(EXAMPLE_CSV), "--list", "matinale", cwd=tmp_path)
    sent = digest("send", "--list", "matinale", "--now", SAMPLE_NOW, cwd=tmp_path)
    assert "sent" in sent.stdout
    edition_id = "matinale-2025-07-01"
    [action] = list_actions(db, edition_id)
    assert action.action == "start" and action.actor.startswith("cli")
    assert action.detail == "backend outbox"
    digest("send", "--list", "matinale", "--now", SAMPLE_NOW, "--resend-unknown", cwd=tmp_path)
    assert [a.action for a in list_actions(db, edition_id)] == ["resend-unknown", "start"]
