"""Editors' sessions against a stolen or kept cookie: logout must end the session on the
server, not only in the browser that logged out."""

from datetime import timedelta

import httpx
from sqlalchemy import select

from digest.store import schema as t
from digest.store.editions import get_edition
from tests.hostile.webparts import *  # noqa: F403 - the web fixtures
from tests.hostile.webparts import Peer


def test_a_cookie_captured_before_logout_is_refused_after_it(app, draft):
    """Attack: someone copies the session cookie (a shared machine, a proxy log), the editor
    logs out, the copy is replayed. It used to work for the rest of the 12 hours."""
    editor, thief = Peer(app, "10.0.0.1"), Peer(app, "10.0.0.66")
    try:
        assert editor.login().status_code == 303
        thief.http.cookies = httpx.Cookies(editor.http.cookies)  # the captured cookie
        assert thief.get("/editions").status_code == 200  # it is a live session...
        csrf = thief.csrf(f"/editions/{draft.id}")  # ...and the thief keeps its CSRF token
        editor.post("/logout", data={"csrf": editor.csrf("/editions")})
        assert editor.get("/editions").status_code == 303
        # The same cookie, validly signed and unexpired, is now refused everywhere.
        page = thief.get("/editions")
        assert page.status_code == 303 and page.headers["location"] == "/digest/login"
        assert thief.get("/api/editions").status_code == 403
        approve = thief.post(f"/editions/{draft.id}/approve", data={"csrf": csrf})
        assert approve.status_code == 403
        assert get_edition(app.state.web.db, draft.id).approved_at is None
    finally:
        editor.close()
        thief.close()


def test_the_database_holds_no_usable_session_id(app, web_db):
    """Attack: a read of the database (a backup) to mint a session: only a hash is stored."""
    editor = Peer(app, "10.0.0.1")
    try:
        editor.login()
        cookie = editor.http.cookies["digest_session"]
        with web_db.read() as conn:
            row = conn.execute(select(t.web_sessions)).one()
        assert row.editor == "amina" and row.revoked_at is None and len(row.id_hash) == 64
        assert row.expires_at - row.created_at == timedelta(hours=12)
        import base64
        import json

        payload = json.loads(base64.b64decode(cookie.split(".")[0] + "=="))
        assert payload["sid"] != row.id_hash and row.id_hash not in cookie
    finally:
        editor.close()


def test_logging_in_again_ends_the_previous_session(app):
    """Attack: a cookie fixed or copied before login (session fixation) stays logged out; a
    second login over a live session ends the first."""
    editor, copy = Peer(app, "10.0.0.1"), Peer(app, "10.0.0.1")
    try:
        editor.login()
        copy.http.cookies = httpx.Cookies(editor.http.cookies)
        assert copy.get("/editions").status_code == 200
        editor.login()  # again, from the same browser
        assert editor.get("/editions").status_code == 200
        assert copy.get("/editions").status_code == 303
    finally:
        editor.close()
        copy.close()


def test_an_expired_session_is_refused(app, web_db):
    """Attack: a cookie replayed after the session's 12 hours, the server's clock decides."""
    from sqlalchemy import update

    editor = Peer(app, "10.0.0.1")
    try:
        editor.login()
        with web_db.write() as conn:
            conn.execute(
                update(t.web_sessions).values(expires_at=t.utcnow() - timedelta(seconds=1))
            )
        assert editor.get("/editions").status_code == 303
    finally:
        editor.close()


def test_session_store_functions(web_db):
    """The store on its own: revoked and expired sessions answer None; expired rows go at
    the next login."""
    from digest.store.web_sessions import create_session, revoke_session, session_editor

    now = t.utcnow()
    create_session(web_db, "a" * 64, "amina", now=now, lifetime=timedelta(hours=12))
    assert session_editor(web_db, "a" * 64, now=now) == "amina"
    assert session_editor(web_db, "b" * 64, now=now) is None
    assert session_editor(web_db, "a" * 64, now=now + timedelta(hours=12)) is None
    revoke_session(web_db, "a" * 64, now=now)
    assert session_editor(web_db, "a" * 64, now=now) is None
    create_session(
        web_db, "c" * 64, "amina", now=now + timedelta(hours=13), lifetime=timedelta(hours=12)
    )
    with web_db.read() as conn:
        assert list(conn.execute(select(t.web_sessions.c.id_hash)).scalars()) == ["c" * 64]
