"""The dashboard, the send control page, the audit log page and the API tokens page, in process:
what each shows in each state, every action through the library calls the API uses (recorded
in send_actions / the audit), refused to a plain editor (audited) and without the CSRF token."""

import dataclasses
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest

from digest.schedule.triggers import next_times
from digest.store import audit
from digest.store.api_tokens import check_token, create_token, list_tokens
from digest.store.editions import approve_edition, get_edition, save_edition
from digest.store.schedules import Schedule, add_schedule, get_schedule
from digest.store.sendactions import list_actions
from digest.web.when import When
from digest.zones import zone
from tests.web.conftest import EDITOR, PLAIN_EDITOR


class Held:
    """A delivery backend that waits for ``gate`` before each batch, then delivers as ``inner``."""

    def __init__(self, inner, gate: threading.Event):
        self.inner, self.gate, self.info = inner, gate, inner.info
        self.waiting = threading.Event()

    def send_batch(self, job, batch):
        self._hold()
        return self.inner.send_batch(job, batch)

    def send_prepared(self, prepared):  # a batch prepared ahead (SendGrid: delivery/ahead.py)
        self._hold()
        return self.inner.send_prepared(prepared)

    def _hold(self):
        self.waiting.set()
        assert self.gate.wait(60), "the test never opened the gate"

    def close(self):
        self.inner.close()

    def __getattr__(self, name):  # max_batch and the rest: the real backend's
        return getattr(self.inner, name)


def wait(client, edition_id):
    report = client.http._transport.app.state.web.sends.wait(edition_id, timeout=60)
    assert report is not None
    return report


def today_id(config, days=0):
    local = datetime.now(UTC).astimezone(zone(config.site.timezone)).date()
    return f"matinale-{(local + timedelta(days=days)).isoformat()}"


@pytest.fixture
def today(web_config, web_db, draft):
    """The draft's build again, stored under today's id (the dashboard's first column)."""
    from digest.edition.build import build_edition
    from tests.conftest import SAMPLE_NOW

    built = build_edition(web_config, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW))
    edition = dataclasses.replace(built.edition, id=today_id(web_config))
    save_edition(web_db, edition, built.rendered, needs_approval=True)
    return get_edition(web_db, edition.id)


def cell(html, edition_id):
    match = re.search(rf'data-edition="{edition_id}">(.*?)</td>', html, re.S)
    assert match, edition_id
    return re.sub(r"<[^>]+>", " ", match.group(1))


def test_anonymous_visitors_get_the_archive_and_a_login_lands_on_the_dashboard(client, draft):
    assert client.get("/").headers["location"] == "/digest/archive"
    logged = client.login()
    assert logged.status_code == 303 and logged.headers["location"] == "/digest/"
    page = client.get("/")
    assert page.status_code == 200 and "<h1>Dashboard</h1>" in page.text
    attention = page.text.split('id="attention"')[1].split("</section>")[0]
    assert draft.id in attention and "waits for approval" in attention
    # The admin's navigation.
    for path in ("/", "/editions", "/audience", "/stats", "/audit", "/tokens"):
        assert f'href="/digest{path}"' in page.text, path
    # The page may run its own progress script, and only that one.
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1]
    script = client.get("/send.js")
    assert script.status_code == 200 and "EventSource" in script.text


def test_a_plain_editor_sees_the_dashboard_without_the_admin_pages(client, draft, web_db):
    client.login(name=PLAIN_EDITOR)
    page = client.get("/")
    assert page.status_code == 200 and draft.id in page.text
    assert 'href="/digest/editions"' in page.text
    for path in ("/audience", "/stats", "/audit", "/tokens"):
        assert f'href="/digest{path}"' not in page.text
    assert f"/editions/{draft.id}/send" not in page.text
    assert "Send control" not in client.get(f"/editions/{draft.id}").text


def test_the_dashboard_shows_today_tomorrow_schedules_and_sources(
    client, web_config, web_db, today
):
    add_schedule(
        web_db,
        Schedule(
            name="matin",
            list_name="matinale",
            cron="0 7 * * *",
            timezone="Africa/Casablanca",
            draft_at="06:30",
            approval="required",
        ),
    )
    client.login()
    html = client.get("/").text
    assert "waiting for approval" in cell(html, today.id)
    assert "not built yet" in cell(html, today_id(web_config, 1))
    schedules = html.split('id="schedules"')[1].split("</section>")[0]
    draft_at, send_at = next_times(get_schedule(web_db, "matin"), datetime.now(UTC))
    spelled = When(web_config.site.timezone, "en")  # the site's zone, the page's language
    assert "matin" in schedules
    assert spelled(draft_at) in schedules and spelled(send_at) in schedules
    # 07:00 in Casablanca reads 07:00 (the tzdata package's zone, as the scheduler's), never
    # the hour the system's older tzdata would make of it.
    assert spelled(send_at, "HH:mm") == "07:00" and "7:00" in schedules
    sources = html.split('id="sources"')[1].split("</section>")[0]
    assert web_config.sources and all(s.name in sources for s in web_config.sources)
    assert "✓" in sources and "stories" in sources

    approve_edition(web_db, today.id, by=EDITOR)
    assert "approved" in cell(client.get("/").text, today.id)
    # French: the title and the states.
    fr = client.get("/?lang=fr").text
    assert "<h1>Tableau de bord</h1>" in fr and "validée" in cell(fr, today.id)


def test_send_control_is_for_admins_only_and_audited(client, draft, web_db):
    client.login(name=PLAIN_EDITOR)
    assert client.get(f"/editions/{draft.id}/send").status_code == 403
    csrf = client.csrf("/editions")
    for action in ("approve", "start", "pause", "resume", "cancel", "retry-failed"):
        answer = client.post(f"/editions/{draft.id}/send/{action}", data={"csrf": csrf})
        assert answer.status_code == 403, action
    refused = [x.target for x in audit.entries(web_db, actor=PLAIN_EDITOR) if x.action == "refused"]
    assert f"/editions/{draft.id}/send" in refused and f"/editions/{draft.id}/send/start" in refused
    assert get_edition(web_db, draft.id).status == "ready" and list_actions(web_db) == []


def test_send_control_needs_the_csrf_token(client, draft, web_db):
    client.login()
    for action in ("approve", "start", "cancel"):
        answer = client.post(f"/editions/{draft.id}/send/{action}", data={"csrf": "forged"})
        assert answer.status_code == 403, action
        assert client.post(f"/editions/{draft.id}/send/{action}").status_code == 403
    stored = get_edition(web_db, draft.id)
    assert stored.status == "ready" and stored.approved_at is None


def buttons(html):
    return re.findall(r'name="go" value="([a-z-]+)"', html)


def test_approve_start_and_watch_a_send_to_the_end(client, draft, web_db):
    client.login()
    path = f"/editions/{draft.id}/send"
    page = client.get(path)
    assert page.status_code == 200 and buttons(page.text) == ["approve", "cancel"]
    assert "waiting for approval" in page.text and "data-progress" not in page.text
    csrf = client.csrf(path)

    approved = client.post(f"{path}/approve", data={"csrf": csrf})
    assert approved.status_code == 303 and approved.headers["location"].startswith(f"/digest{path}")
    page = client.get(approved.headers["location"])
    assert f"Approved by {EDITOR}" in page.text and buttons(page.text) == ["start", "cancel"]
    assert '<option value="outbox" selected>' in page.text

    started = client.post(f"{path}/start", data={"csrf": csrf, "backend": "outbox"})
    assert "Started" in client.get(started.headers["location"]).text
    report = wait(client, draft.id)
    assert report.status == "sent" and report.sent > 0
    page = client.get(path)
    assert re.search(r'id="status"[^>]*>sent<', page.text)
    assert f'data-count="sent">{report.sent}<' in page.text
    assert f'value="{report.sent}"' in page.text  # the progress bar, full
    assert f'href="/digest{path}">Refresh<' in page.text  # for a browser without JavaScript
    assert buttons(page.text) == []  # nothing left to do: no start, pause, cancel
    history = page.text.split('id="history"')[1]
    assert history.index(">start<") < history.index(">approve<")  # newest first
    assert [(a.action, a.actor) for a in list_actions(web_db, draft.id)] == [
        ("start", EDITOR),
        ("approve", EDITOR),
    ]
    # A second start: the library's refusal, shown on the page.
    again = client.post(f"{path}/start", data={"csrf": csrf, "backend": "outbox"})
    assert "sent already" in client.get(again.headers["location"]).text


def test_pause_refused_when_not_sending_and_cancel_with_a_reason(client, draft, web_db):
    approve_edition(web_db, draft.id, by=EDITOR)
    client.login()
    path = f"/editions/{draft.id}/send"
    csrf = client.csrf(path)
    paused = client.post(f"{path}/pause", data={"csrf": csrf})
    assert "Not done" in client.get(paused.headers["location"]).text
    bad = client.post(f"{path}/start", data={"csrf": csrf, "backend": "pigeon"})
    assert bad.status_code == 400
    done = client.post(f"{path}/cancel", data={"csrf": csrf, "reason": "wrong day"})
    page = client.get(done.headers["location"])
    assert "Cancelled" in page.text and "wrong day" in page.text and buttons(page.text) == []
    assert get_edition(web_db, draft.id).status == "cancelled"
    [action] = list_actions(web_db, draft.id)
    assert (action.action, action.actor, action.detail) == ("cancel", EDITOR, "wrong day")


def test_retry_failed_is_offered_only_when_some_failed(client, draft, web_db):
    from sqlalchemy import update

    from digest.store import schema as t

    approve_edition(web_db, draft.id, by=EDITOR)
    client.login()
    path = f"/editions/{draft.id}/send"
    client.post(f"{path}/start", data={"csrf": client.csrf(path), "backend": "outbox"})
    wait(client, draft.id)
    assert buttons(client.get(path).text) == []
    with web_db.write() as conn:  # two deliveries answered "failed", one "unknown"
        ids = list(conn.scalars(t.deliveries.select().with_only_columns(t.deliveries.c.id)))[:3]
        conn.execute(
            update(t.deliveries).where(t.deliveries.c.id.in_(ids[:2])).values(status="failed")
        )
        conn.execute(
            update(t.deliveries).where(t.deliveries.c.id == ids[2]).values(status="unknown")
        )
    page = client.get(path)
    assert buttons(page.text) == ["retry-failed", "resend-unknown"]
    dash = client.get("/").text.split('id="attention"')[1].split("</section>")[0]
    assert "failed deliveries" in dash and "unknown deliveries" in dash and "2 failed" in dash
    client.post(f"{path}/retry-failed", data={"csrf": client.csrf(path), "reason": ""})
    assert wait(client, draft.id).status == "sent"
    client.post(f"{path}/resend-unknown", data={"csrf": client.csrf(path)})
    wait(client, draft.id)
    assert buttons(client.get(path).text) == []
    assert [a.action for a in list_actions(web_db, draft.id)][:2] == [
        "resend-unknown",
        "retry-failed",
    ]


def test_the_audit_page_pages_and_filters(client, web_db):
    for i in range(55):
        audit.record(web_db, "someone", "edit", target=f"e{i}")
    audit.record(web_db, "token:bot", "subscribe", target="matinale", detail="x@example.org")
    client.login(name=PLAIN_EDITOR)
    assert client.get("/audit").status_code == 403
    client.post("/logout", data={"csrf": client.csrf("/editions")})
    client.login()
    first = client.get("/audit")
    assert first.status_code == 200 and "page 1 of 2" in first.text
    rows = first.text.split('id="audit"')[1]
    assert rows.index("token:bot") < rows.index("someone")  # newest first
    assert rows.count("<tr>") == 51  # the header and 50
    assert "e54" in rows and "e4<" not in rows
    second = client.get("/audit?page=2")
    assert "page 2 of 2" in second.text and ">e4<" in second.text and 'rel="prev"' in second.text
    mine = client.get("/audit?actor=token:bot")
    assert "1 entries" in mine.text and "someone" not in mine.text.split('id="audit"')[1]
    # The refusal of karim's visit is there, with who and what.
    karim = client.get(f"/audit?actor={PLAIN_EDITOR}").text
    assert "refused" in karim and "/audit" in karim


def test_tokens_are_made_shown_once_and_revoked(client, web_db):
    client.login()
    csrf = client.csrf("/tokens")
    assert client.post("/tokens", data={"name": "ci", "scope": "read"}).status_code == 403
    made = client.post("/tokens", data={"csrf": csrf, "name": "ci", "scope": "write"})
    assert made.status_code == 200
    token = re.search(r'<code id="token">([^<]+)</code>', made.text).group(1)
    listed = client.get("/tokens")
    assert token not in listed.text and ">ci<" in listed.text and "never" in listed.text
    assert check_token(web_db, token).scope == "write"  # noted as used: no longer "never"
    assert "never" not in client.get("/tokens").text
    bad = client.post("/tokens", data={"csrf": csrf, "name": "x y", "scope": "read"})
    assert bad.status_code == 400 and "token name" in bad.text
    again = client.post("/tokens", data={"csrf": csrf, "name": "ci", "scope": "read"})
    assert again.status_code == 400 and "already" in again.text
    assert client.post("/tokens/revoke", data={"name": "ci"}).status_code == 403
    revoked = client.post("/tokens/revoke", data={"csrf": csrf, "name": "ci"})
    assert "revoked" in client.get(revoked.headers["location"]).text
    assert check_token(web_db, token) is None and list_tokens(web_db)[0].revoked_at is not None
    assert [(x.action, x.target) for x in audit.entries(web_db, actor=EDITOR)] == [
        ("token-revoke", "ci"),
        ("token-create", "ci"),
    ]


def test_tokens_are_for_admins(client, web_db):
    create_token(web_db, "bot", "read", by="test")
    client.login(name=PLAIN_EDITOR)
    assert client.get("/tokens").status_code == 403
    csrf = client.csrf("/editions")
    assert (
        client.post("/tokens", data={"csrf": csrf, "name": "x", "scope": "write"}).status_code
        == 403
    )
    assert client.post("/tokens/revoke", data={"csrf": csrf, "name": "bot"}).status_code == 403
    assert [tk.name for tk in list_tokens(web_db)] == ["bot"] and not list_tokens(web_db)[
        0
    ].revoked_at
    refused = [x.target for x in audit.entries(web_db, actor=PLAIN_EDITOR) if x.action == "refused"]
    assert sorted(refused) == ["/tokens", "/tokens", "/tokens/revoke"]


def test_a_failed_run_a_failed_source_and_a_skipped_edition_say_why(
    client, web_config, web_db, draft
):
    from digest.edition.build import build_edition
    from digest.models import SourceResult
    from digest.store.editions import skip_edition
    from digest.store.schedules import record_run
    from tests.conftest import SAMPLE_NOW

    built = build_edition(web_config, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW))
    broken = (*built.edition.sources, SourceResult(name="agence", error="timed out after 10 s"))
    tomorrow = dataclasses.replace(built.edition, id=today_id(web_config, 1), sources=broken)
    save_edition(web_db, tomorrow, built.rendered)
    skip_edition(web_db, tomorrow.id, reason="nothing new since the last edition")
    # Today's run failed before any edition was stored.
    add_schedule(
        web_db,
        Schedule(
            name="matin", list_name="matinale", cron="0 7 * * *", timezone="Africa/Casablanca"
        ),
    )
    record_run(
        web_db,
        "matin",
        at=datetime.now(UTC),
        status="failed",
        reason="every source failed",
        edition_id=None,
    )
    client.login()
    html = client.get("/").text
    today_cell = cell(html, today_id(web_config))
    assert "failed" in today_cell and "every source failed" in today_cell
    skipped = cell(html, tomorrow.id)
    assert "skipped" in skipped and "nothing new since the last edition" in skipped
    sources = html.split('id="sources"')[1].split("</section>")[0]
    assert "agence" in sources and "✗ timed out after 10 s" in sources


@pytest.fixture
def held(site, web_db, editor_hash):
    """The app with batches of 2 and a backend held before each batch until the test says."""
    from digest.config import load_config
    from digest.delivery import make_backend
    from digest.web.app import create_app
    from tests.web.conftest import SECRET, Client

    with open(site, "a", encoding="utf-8") as fh:
        fh.write("\n[delivery]\nbatch_size = 2\n")
    config = load_config(site, env={"DIGEST_SECRET_KEY": SECRET})
    gate, made = threading.Event(), []

    def make(name):
        made.append(Held(make_backend(name, config, out_dir=config.state_dir), gate))
        return made[-1]

    app = create_app(config, db=web_db, make_send_backend=make)
    c = Client(app)
    yield c, gate, made
    gate.set()
    app.state.web.sends.shutdown()
    c.close()


def test_pause_a_running_send_then_resume_it(held, draft, web_db):
    client, gate, made = held
    approve_edition(web_db, draft.id, by=EDITOR)
    client.login()
    path = f"/editions/{draft.id}/send"
    client.post(f"{path}/start", data={"csrf": client.csrf(path), "backend": "outbox"})
    assert made and made[0].waiting.wait(30)  # at its first batch
    page = client.get(path)
    assert buttons(page.text) == ["pause", "cancel"] and "data-progress" in page.text
    paused = client.post(f"{path}/pause", data={"csrf": client.csrf(path)})
    assert "Pause asked" in client.get(paused.headers["location"]).text
    gate.set()
    assert wait(client, draft.id).status == "paused"
    page = client.get(path)
    assert buttons(page.text) == ["resume", "cancel"] and "data-progress" not in page.text
    assert re.search(r'id="status"[^>]*>paused<', page.text)
    client.post(f"{path}/resume", data={"csrf": client.csrf(path)})
    assert wait(client, draft.id).status == "sent"
    assert [a.action for a in reversed(list_actions(web_db, draft.id))] == [
        "start",
        "pause",
        "resume",
    ]
    assert "paused" not in client.get("/").text.split('id="attention"')[1].split("</section>")[0]


def test_the_pages_in_french_and_arabic(client, draft):
    client.login()
    assert "<h1>لوحة القيادة</h1>" in client.get("/?lang=ar").text
    send = client.get(f"/editions/{draft.id}/send?lang=fr").text
    assert "Pilotage de l’envoi" in send and "Valider cette édition" in send
    assert "Journal d’audit" in client.get("/audit?lang=fr").text
    assert "Jetons d’API" in client.get("/tokens?lang=fr").text
