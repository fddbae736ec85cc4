"""Editors' pages: login, previews, checks, edits re-rendered at once, approval, test sends."""

import re
from email import message_from_bytes
from email.policy import default

from markupsafe import escape

from digest.edition.edits import story_key
from digest.store.editions import get_edition
from tests.web.conftest import EDITOR


def test_nothing_editorial_is_reachable_without_login(client, draft):
    for path in (
        "/editions",
        f"/editions/{draft.id}",
        f"/editions/{draft.id}/preview.html",
        f"/editions/{draft.id}/preview.txt",
    ):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/digest/login"
        assert draft.edition.subject not in response.text
    assert client.get("/api/editions").status_code == 403
    assert client.get(f"/api/editions/{draft.id}").status_code == 403
    # A post without a session is refused before anything else happens.
    assert client.post(f"/editions/{draft.id}/approve", data={"csrf": "x"}).status_code == 403
    assert get_edition(client_db(client), draft.id).approved_at is None


def client_db(client):
    return client.http._transport.app.state.web.db


def test_wrong_password_and_unknown_editor_are_refused_alike(client):
    wrong = client.login(password="nope")
    unknown = client.login(name="mallory", password="nope")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong name or password." in wrong.text and "Wrong name or password." in unknown.text
    assert client.get("/editions").status_code == 303


def test_session_cookie_is_httponly_secure_samesite(client):
    response = client.login()
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
    assert "path=/digest" in cookie


def test_draft_page_shows_previews_text_subject_and_checks(editor, draft):
    page = editor.get(f"/editions/{draft.id}")
    assert page.status_code == 200
    assert escape(draft.edition.subject) in page.text
    assert escape(draft.edition.preheader) in page.text
    assert 'class="desktop"' in page.text and 'class="mobile"' in page.text
    assert f"/editions/{draft.id}/preview.html" in page.text
    for name in (
        "HTML size",
        "Images with alt text",
        "Links use https",
        "Subject length",
        "Postal address",
        "Unsubscribe link",
    ):
        assert name in page.text
    assert "✗" not in page.text  # the sample passes every check
    preview = editor.get(f"/editions/{draft.id}/preview.html")
    assert preview.status_code == 200
    assert "sandbox" in preview.headers["content-security-policy"]
    # Preview values only: nobody's working unsubscribe link, no placeholder left.
    assert "/digest/u/" not in preview.text and "__dg" not in preview.text
    assert "https://www.example.ma/digest/unsubscribe" in preview.text
    text = editor.get(f"/editions/{draft.id}/preview.txt").text
    assert " ".join(draft.edition.ticker[0].title.split()[:4]) in text
    assert "/digest/u/" not in text and "__dg" not in text


def test_checks_flag_a_bad_edition(web_config, draft):
    import dataclasses

    from digest.web.drafts import checks

    html = draft.rendered.html.replace("https://", "http://", 1)
    html = html.replace(web_config.site.postal_address.split(",")[0], "")
    html = html.replace("</body>", '<img src="https://x/a.png" width="10"></body>')
    bad = dataclasses.replace(
        draft, rendered=dataclasses.replace(draft.rendered, html=html, subject="x" * 90)
    )
    failed = {c["name"] for c in checks(web_config, bad) if not c["ok"]}
    assert failed == {"Links use https", "Postal address", "Images with alt text", "Subject length"}


def test_pin_reorders_rerenders_and_withdraws_approval(editor, draft, web_db):
    editor.post(
        f"/editions/{draft.id}/approve", data={"csrf": editor.csrf(f"/editions/{draft.id}")}
    )
    assert get_edition(web_db, draft.id).approved_by == EDITOR
    last = draft.edition.ticker[-1]
    response = editor.post(
        f"/editions/{draft.id}/stories",
        data={
            "csrf": editor.csrf(f"/editions/{draft.id}"),
            "action": "pin",
            "key": story_key(last),
        },
    )
    assert response.status_code == 303
    after = get_edition(web_db, draft.id)
    assert after.edition.ticker[0] == last
    assert after.approved_at is None  # the editor approved what they saw, not this
    assert after.edits["pinned"] == [story_key(last)]
    # Rendered again: the pinned story now comes first in the HTML's ticker.
    titles = [s.title for s in draft.edition.ticker]
    positions = sorted((after.rendered.html.find(t), t) for t in titles if t in after.rendered.html)
    assert positions[0][1] == last.title


def test_drop_and_restore_a_story(editor, draft, web_db):
    victim = draft.edition.ticker[0]
    url = f"/editions/{draft.id}"
    editor.post(
        f"{url}/stories",
        data={"csrf": editor.csrf(url), "action": "drop", "key": story_key(victim)},
    )
    dropped = get_edition(web_db, draft.id)
    assert victim not in dropped.edition.ticker
    assert victim.title not in dropped.rendered.html
    editor.post(
        f"{url}/stories",
        data={"csrf": editor.csrf(url), "action": "restore", "key": story_key(victim)},
    )
    assert get_edition(web_db, draft.id).edition.ticker == draft.edition.ticker


def test_move_down_note_and_subject_override(editor, draft, web_db):
    url = f"/editions/{draft.id}"
    first, second = draft.edition.ticker[:2]
    editor.post(
        f"{url}/stories", data={"csrf": editor.csrf(url), "action": "down", "key": story_key(first)}
    )
    assert get_edition(web_db, draft.id).edition.ticker[:2] == (second, first)
    editor.post(
        f"{url}/texts",
        data={
            "csrf": editor.csrf(url),
            "subject": "Édition spéciale\r\nBcc: x",
            "note": "Bonne lecture & à demain",
        },
    )
    after = get_edition(web_db, draft.id)
    assert after.edition.subject == "Édition spéciale Bcc: x"  # one line: headers stay safe
    assert after.rendered.subject == after.edition.subject
    assert "Bonne lecture &amp; à demain" in after.rendered.html
    assert after.edition.ticker[:2] == (second, first)  # earlier edits are kept


def test_post_without_csrf_token_is_refused(editor, draft, web_db):
    for path, data in (
        (f"/editions/{draft.id}/approve", {}),
        (f"/editions/{draft.id}/stories", {"action": "drop", "key": "x"}),
        (f"/editions/{draft.id}/texts", {"subject": "hacked"}),
        (f"/editions/{draft.id}/approve", {"csrf": "forged"}),
    ):
        assert editor.post(path, data=data).status_code == 403, path
    stored = get_edition(web_db, draft.id)
    assert stored.approved_at is None and stored.edits is None


def test_approve_is_what_the_send_gate_waits_for(editor, draft, web_db):
    from digest.store.editions import NotApproved, claim_edition

    try:
        claim_edition(web_db, draft.id, "t", backend="outbox")
        raise AssertionError("an unapproved draft was claimed")
    except NotApproved:
        pass
    page = editor.post(
        f"/editions/{draft.id}/approve", data={"csrf": editor.csrf(f"/editions/{draft.id}")}
    )
    assert page.status_code == 303
    assert "Approved" in editor.get(page.headers["location"]).text
    assert claim_edition(web_db, draft.id, "t", backend="outbox") == "ready"
    # Recorded, as approvals through the API and the send page are: the audit shows who.
    from digest.store.audit import entries

    assert any(e.action == "send:approve" and e.target == draft.id for e in entries(web_db))


def test_send_a_test_through_the_outbox(editor, draft, web_config):
    url = f"/editions/{draft.id}"
    response = editor.post(
        f"{url}/test", data={"csrf": editor.csrf(url), "address": "editor@example.com"}
    )
    assert response.status_code == 303
    files = list((web_config.root / "web-outbox").glob("*.eml"))
    assert len(files) == 1
    message = message_from_bytes(files[0].read_bytes(), policy=default)
    assert message["To"] == "editor@example.com"
    assert message["Subject"].startswith("[test] ")
    body = message.get_body(("html",)).get_content()
    assert "/digest/u/" not in body and "__dg" not in body
    bad = editor.post(f"{url}/test", data={"csrf": editor.csrf(url), "address": "not-an-address"})
    assert "Not sent" in editor.get(bad.headers["location"]).text


def test_json_api_and_openapi(editor, draft):
    spec = editor.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.") and "/api/editions" in spec["paths"]
    rows = editor.get("/api/editions").json()
    assert [r["id"] for r in rows] == [draft.id]
    one = editor.get(f"/api/editions/{draft.id}").json()
    assert one["edition"]["subject"] == draft.edition.subject
    assert {c["name"] for c in one["checks"]} >= {"HTML size", "Unsubscribe link"}
    missing = editor.get("/api/editions/nope")
    assert missing.status_code == 404 and missing.json() == {"error": "There is no such edition."}


def test_editions_list_and_logout(editor, draft):
    page = editor.get("/editions")
    assert draft.id in page.text
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    assert editor.post("/logout", data={"csrf": token}).status_code == 303
    assert editor.get("/editions").status_code == 303


def test_unexpected_errors_become_a_500_page_without_details(app, editor, draft, monkeypatch):
    import httpx

    from digest.web import editors

    def broken(*a, **kw):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(editors, "get_edition", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    response = editor.loop.run_until_complete(
        httpx.AsyncClient(
            transport=transport,
            base_url="https://www.example.ma",
            cookies=editor.http.cookies,
            headers={"Accept-Language": "en"},
        ).get(f"/digest/editions/{draft.id}")
    )
    assert response.status_code == 500
    assert "secret internals" not in response.text and "logged" in response.text


def test_login_attempts_are_rate_limited(client):
    # 5 failures for one account from one client (tests/hostile/test_web_login.py has the rest).
    statuses = [client.login(password=f"guess {i}").status_code for i in range(6)]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    assert client.login().status_code == 429  # even the right password, for a while
