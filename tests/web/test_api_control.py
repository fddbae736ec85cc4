"""Send control and the JSON API's write side: bearer tokens (read / write / revoked), the
session's CSRF header, start / pause / resume / cancel / retry / resend through the same library
calls as the CLI, every action in the audit, subscribers by API. Real parts: the app in process,
the real sendgrid library against the loopback SendGrid-like server, SQLite and PostgreSQL."""

import json
import threading
from collections import Counter

import pytest

from digest.config import load_config
from digest.delivery import make_backend
from digest.delivery.control import progress, run_send
from digest.store import audit, ledger
from digest.store.api_tokens import create_token, list_tokens, revoke_token
from digest.store.editions import approve_edition, get_edition
from digest.store.sendactions import list_actions
from digest.tokens import TokenSigner
from tests.delivery.sendgrid_server import SendGridServer
from tests.web.conftest import EDITOR, PLAIN_EDITOR, SECRET, Client

KEY = "SG.control-test-key"

WRITES = [
    ("approve", {}),
    ("start", {}),
    ("pause", {}),
    ("resume", {}),
    ("cancel", {"reason": "x"}),
    ("retry-failed", {}),
    ("resend-unknown", {}),
]


@pytest.fixture
def sendgrid():
    with SendGridServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def control_config(web_config, site, sendgrid):
    with open(site, "a", encoding="utf-8") as fh:
        fh.write("\n[delivery]\nbatch_size = 2\nbackoff_base = 0.01\n")
    env = {"DIGEST_SECRET_KEY": SECRET, "SENDGRID_API_HOST": sendgrid.url, "SENDGRID_API_KEY": KEY}
    return load_config(site, env=env)


@pytest.fixture
def api(control_config, web_db):
    from digest.web.app import create_app

    app = create_app(control_config, db=web_db)
    c = Client(app)
    yield c
    app.state.web.sends.shutdown()
    c.close()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_every_write_is_refused_without_a_valid_write_token(api, web_db, draft):
    reader = create_token(web_db, "dashboard", "read", by="test")
    revoked = create_token(web_db, "old", "write", by="test")
    assert revoke_token(web_db, "old") is True
    e = f"/api/editions/{draft.id}"
    for action, body in WRITES:
        nothing = api.post(f"{e}/{action}", json=body)
        assert nothing.status_code == 403, action
        read = api.post(f"{e}/{action}", json=body, headers=bearer(reader))
        assert read.status_code == 403 and "only read" in read.json()["error"], action
        gone = api.post(f"{e}/{action}", json=body, headers=bearer(revoked))
        assert gone.status_code == 401 and "Bearer" in gone.headers["www-authenticate"]
        forged = api.post(f"{e}/{action}", json=body, headers=bearer("dgt_" + "A" * 43))
        assert forged.status_code == 401, action
        wrong = api.post(f"{e}/{action}", json=body, headers={"Authorization": f"Basic {reader}"})
        assert wrong.status_code == 401, action
    for path, body in (
        ("/api/lists/matinale/subscribers", {"email": "new@example.org"}),
        ("/api/lists/matinale/unsubscribe", {"email": "new@example.org"}),
    ):
        assert api.post(path, json=body, headers=bearer(reader)).status_code == 403
        assert api.post(path, json=body, headers=bearer(revoked)).status_code == 401
    # Nothing happened: not approved, not sent, nothing in the audit.
    stored = get_edition(web_db, draft.id)
    assert stored.approved_at is None and stored.status == "ready"
    assert list_actions(web_db, draft.id) == []
    # A read token reads; a revoked one does not.
    assert api.get(f"{e}/progress", headers=bearer(reader)).status_code == 200
    assert api.get("/api/editions", headers=bearer(reader)).status_code == 200
    assert api.get("/api/editions", headers=bearer(revoked)).status_code == 401
    assert api.get("/api/lists/matinale/subscribers", headers=bearer(reader)).json()["active"] > 0


def test_approve_start_and_progress_with_a_write_token(api, web_db, draft, sendgrid):
    token = create_token(web_db, "newsroom-bot", "write", by="test")
    e = f"/api/editions/{draft.id}"
    refused = api.post(f"{e}/start", json={"backend": "sendgrid"}, headers=bearer(token))
    assert refused.status_code == 409 and "approval" in refused.json()["error"]
    assert api.post(f"{e}/approve", headers=bearer(token)).status_code == 200
    bad = api.post(f"{e}/start", json={"backend": "pigeon"}, headers=bearer(token))
    assert bad.status_code == 400
    started = api.post(f"{e}/start", json={"backend": "sendgrid"}, headers=bearer(token))
    assert started.status_code == 202 and started.json()["action"] == "start"
    report = api.http._transport.app.state.web.sends.wait(draft.id, timeout=60)
    assert report is not None and report.status == "sent"

    seen = api.get(f"{e}/progress", headers=bearer(token)).json()
    members = ledger.counts(web_db, draft.id)
    assert seen["status"] == "sent" and seen["left"] == 0 and seen["eta"] is None
    assert seen["counts"] == members and seen["counts"]["sent"] == report.sent > 0
    assert seen["rate_per_second"] > 0
    assert Counter(sendgrid.delivered_addresses()).most_common(1)[0][1] == 1  # once each
    assert sendgrid.violations == []

    assert seen["senders"] == 0
    stream = api.get(f"{e}/progress/stream", headers=bearer(token))
    assert stream.headers["content-type"].startswith("text/event-stream")
    [event] = [chunk for chunk in stream.text.split("\n\n") if chunk]
    kind, data = event.split("\n")
    assert kind == "event: progress" and json.loads(data.removeprefix("data: "))["left"] == 0
    again = api.post(f"{e}/start", headers=bearer(token))
    assert again.status_code == 409 and "sent already" in again.json()["error"]
    audit = api.get(f"{e}/actions", headers=bearer(token)).json()
    assert [(a["action"], a["actor"]) for a in audit] == [
        ("start", "token:newsroom-bot"),
        ("approve", "token:newsroom-bot"),
    ]
    assert get_edition(web_db, draft.id).approved_by == "token:newsroom-bot"
    used = {t.name: t for t in list_tokens(web_db)}["newsroom-bot"]
    assert used.last_used_at is not None


def test_pause_stops_a_running_send_after_its_batch_then_resume_finishes(
    api, web_db, control_config, draft, sendgrid
):
    """A sender (here: the CLI's library call, in a thread) is held after its first batch; the
    API's pause lands; the loop stops before the next batch; the API's resume finishes it."""
    token = create_token(web_db, "bot", "write", by="test")
    approve_edition(web_db, draft.id, by=EDITOR)
    e = f"/api/editions/{draft.id}"
    assert api.post(f"{e}/pause", headers=bearer(token)).status_code == 409  # not sending yet

    first_batch, go_on = threading.Event(), threading.Event()

    def hold(done, total):
        if done >= 2 and not first_batch.is_set():
            first_batch.set()
            go_on.wait(30)

    result = {}

    def cli_send():
        result["report"] = run_send(
            control_config,
            web_db,
            get_edition(web_db, draft.id),
            make_backend("sendgrid", control_config, out_dir=control_config.state_dir),
            signer=TokenSigner(SECRET),
            actor="cli:tester",
            progress=hold,
        )

    sender = threading.Thread(target=cli_send)
    sender.start()
    assert first_batch.wait(30)
    during = api.get(f"{e}/progress", headers=bearer(token)).json()
    # The first batch's answers are written with the next claim: "sending" until then.
    answered = during["counts"].get("sent", 0) + during["counts"].get("sending", 0)
    assert during["status"] == "sending" and during["senders"] == 1 and answered == 2
    busy = api.post(f"{e}/start", json={"backend": "sendgrid"}, headers=bearer(token))
    assert busy.status_code == 409 and "another process" in busy.json()["error"]
    paused = api.post(f"{e}/pause", headers=bearer(token))
    go_on.set()
    sender.join(30)
    assert paused.status_code == 202
    report = result["report"]
    assert report.status == "paused" and report.reason == "paused by token:bot"
    mid = api.get(f"{e}/progress", headers=bearer(token)).json()
    assert mid["status"] == "paused" and mid["left"] > 0 and mid["counts"]["sent"] == 2
    assert mid["senders"] == 0
    assert get_edition(web_db, draft.id).status == "paused"

    resumed = api.post(f"{e}/resume", json={"backend": "sendgrid"}, headers=bearer(token))
    assert resumed.status_code == 202 and resumed.json()["action"] == "resume"
    done = api.http._transport.app.state.web.sends.wait(draft.id, timeout=60)
    assert done.status == "sent"  # the pause request was answered, not left to stop it again
    assert progress(web_db, draft.id)["left"] == 0
    assert max(Counter(sendgrid.delivered_addresses()).values()) == 1
    assert api.post(f"{e}/resume", headers=bearer(token)).status_code == 409  # not paused
    actions = [(a.action, a.actor) for a in reversed(list_actions(web_db, draft.id))]
    assert actions == [("start", "cli:tester"), ("pause", "token:bot"), ("resume", "token:bot")]


def test_retry_failed_resend_unknown_and_cancel_are_recorded(api, web_db, draft, sendgrid):
    token = create_token(web_db, "ops", "write", by="test")
    approve_edition(web_db, draft.id, by=EDITOR)
    e = f"/api/editions/{draft.id}"
    sends = api.http._transport.app.state.web.sends
    sendgrid.script(["ok", "400"])  # the second batch refused: failed, the send pauses
    assert api.post(f"{e}/start", json={"backend": "sendgrid"}, headers=bearer(token)).is_success
    first = sends.wait(draft.id, 60)
    assert first.status == "paused" and first.failed == 2
    retried = api.post(f"{e}/retry-failed", json={"reason": "400"}, headers=bearer(token))
    assert retried.status_code == 202 and retried.json()["action"] == "retry-failed"
    assert sends.wait(draft.id, 60).status == "sent"
    assert ledger.counts(web_db, draft.id)["failed"] == 0
    resent = api.post(f"{e}/resend-unknown", headers=bearer(token))
    assert resent.status_code == 202  # nothing unknown: the loop says so, nothing is sent twice
    sends.wait(draft.id, 60)
    assert max(Counter(sendgrid.delivered_addresses()).values()) == 1
    gone = api.post(f"{e}/cancel", json={"reason": "wrong day"}, headers=bearer(token))
    assert gone.status_code == 409 and "nothing left to cancel" in gone.json()["error"]
    audit = [(a.action, a.detail) for a in reversed(list_actions(web_db, draft.id))]
    assert [a for a, _ in audit] == ["start", "retry-failed", "resend-unknown"]
    assert "reason contains '400'" in audit[1][1]


def test_cancel_by_api_is_recorded(api, web_db, draft):
    token = create_token(web_db, "ops", "write", by="test")
    e = f"/api/editions/{draft.id}"
    done = api.post(f"{e}/cancel", json={"reason": "wrong day"}, headers=bearer(token))
    assert done.status_code == 200 and done.json()["already"] == 0
    assert get_edition(web_db, draft.id).status == "cancelled"
    [action] = list_actions(web_db, draft.id)
    assert (action.action, action.actor, action.detail) == ("cancel", "token:ops", "wrong day")
    assert api.post(f"{e}/start", headers=bearer(token)).status_code == 409


def test_a_session_post_needs_the_csrf_header_and_tokens_are_managed_by_session(api, draft):
    assert api.login().status_code == 303
    e = f"/api/editions/{draft.id}"
    no_header = api.post(f"{e}/approve")
    assert no_header.status_code == 403 and "X-CSRF-Token" in no_header.json()["error"]
    csrf = api.get("/api/csrf").json()["csrf"]
    assert api.post(f"{e}/approve", headers={"X-CSRF-Token": "nope"}).status_code == 403
    ok = api.post(f"{e}/approve", headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200 and ok.json()["approved_by"] == EDITOR

    made = api.post(
        "/api/tokens", json={"name": "ci", "scope": "read"}, headers={"X-CSRF-Token": csrf}
    )
    assert made.status_code == 201
    token = made.json()["token"]
    listed = api.get("/api/tokens").json()
    assert [t["name"] for t in listed] == ["ci"] and token not in str(listed)
    # A token cannot make tokens, nor list them.
    assert api.get("/api/tokens", headers=bearer(token)).status_code == 403
    bad = api.post(
        "/api/tokens", json={"name": "x y", "scope": "read"}, headers={"X-CSRF-Token": csrf}
    )
    assert bad.status_code == 409 and "token name" in bad.json()["error"]
    assert api.post("/api/tokens/ci/revoke", headers={"X-CSRF-Token": csrf}).json()["revoked"]
    assert api.get("/api/editions", headers=bearer(token)).status_code == 401


def test_an_editor_approves_but_only_an_admin_sends_and_manages_tokens(api, web_db, draft):
    """Roles: a plain editor's session may approve; send control, subscribers and tokens need
    the admin role; each refusal is answered 403 and written to the audit."""
    assert api.login(name=PLAIN_EDITOR).status_code == 303
    csrf = {"X-CSRF-Token": api.get("/api/csrf").json()["csrf"]}
    e = f"/api/editions/{draft.id}"
    assert api.post(f"{e}/approve", headers=csrf).json()["approved_by"] == PLAIN_EDITOR
    refused = [f"{e}/{action}" for action, _ in WRITES if action != "approve"] + [
        "/api/lists/matinale/subscribers",
        "/api/lists/matinale/unsubscribe",
        "/api/tokens",
    ]
    for path in refused:
        answer = api.post(path, json={"email": "x@example.org", "name": "n"}, headers=csrf)
        assert answer.status_code == 403 and "admin role" in answer.json()["error"], path
    assert get_edition(web_db, draft.id).status == "ready" and list_tokens(web_db) == []
    lines = audit.entries(web_db, actor=PLAIN_EDITOR, limit=100)
    assert sorted(x.target for x in lines if x.action == "refused") == sorted(refused)
    # The admin may.
    api.post("/logout", data={"csrf": api.csrf("/editions")})
    assert api.login().status_code == 303
    csrf = {"X-CSRF-Token": api.get("/api/csrf").json()["csrf"]}
    made = api.post("/api/tokens", json={"name": "bot", "scope": "write"}, headers=csrf)
    assert made.status_code == 201
    assert [(x.actor, x.action, x.target) for x in audit.entries(web_db, actor=EDITOR)] == [
        (EDITOR, "token-create", "bot")
    ]


def test_subscribers_by_api(api, web_db, subscribed):
    token = create_token(web_db, "crm", "write", by="test")
    path = "/api/lists/matinale"
    before = api.get(f"{path}/subscribers", headers=bearer(token)).json()["active"]
    added = api.post(
        f"{path}/subscribers",
        json={"email": "Nadia@Example.org", "name": "Nadia"},
        headers=bearer(token),
    )
    assert added.status_code == 200 and added.json()["added"] == 1
    assert api.get(f"{path}/subscribers", headers=bearer(token)).json()["active"] == before + 1
    bad = api.post(f"{path}/subscribers", json={"email": "not-an-address"}, headers=bearer(token))
    assert bad.status_code == 400 and "cannot be subscribed" in bad.json()["error"]
    out = api.post(
        f"{path}/unsubscribe", json={"email": "nadia@example.org"}, headers=bearer(token)
    )
    assert out.json() == {"unsubscribed": 1}
    again = api.post(
        f"{path}/subscribers", json={"email": "nadia@example.org"}, headers=bearer(token)
    )
    assert again.json()["added"] == 0 and again.json()["not_added"] == 1  # no resubscribing


def test_openapi_describes_send_control(api):
    doc = api.get("/api/openapi.json").json()
    for p in ("progress", "start", "pause", "resume", "cancel", "retry-failed", "resend-unknown"):
        assert f"/api/editions/{{edition_id}}/{p}" in doc["paths"], p
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_a_token_never_reaches_a_log_line(api, web_db, draft, caplog, monkeypatch):
    """An API handler failing with an error that quotes the Authorization header: the 500's
    log line and traceback carry no token."""
    import logging

    from digest.web import apicontrol

    token = create_token(web_db, "leaky", "read", by="test")

    def broken(db, edition_id, now=None):
        raise RuntimeError(f"progress failed for caller {token}")

    monkeypatch.setattr(apicontrol.ctl, "progress", broken)
    api.http._transport.raise_app_exceptions = False
    with caplog.at_level(logging.DEBUG):
        answer = api.get(f"/api/editions/{draft.id}/progress", headers=bearer(token))
    assert answer.status_code == 500 and token not in answer.text
    logged = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
    assert "progress failed for caller dgt_[token]" in logged and token not in logged
