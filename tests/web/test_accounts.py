"""The accounts page (admins): the [editors] table with roles, when each was last seen, and
ending an account's sessions (a lost laptop) -- their cookies refused from the next request."""

from digest.store.audit import entries
from tests.web.conftest import EDITOR, PASSWORD, PLAIN_EDITOR, Client


def test_admins_see_the_accounts_with_roles_and_sessions(editor):
    html = editor.get("/accounts").text
    rows = {
        name: html.split(f'data-account="{name}">')[1].split("</tr>")[0]
        for name in (EDITOR, PLAIN_EDITOR)
    }
    assert "admin" in rows[EDITOR] and "<td>1</td>" in rows[EDITOR]  # this very session
    assert "editor" in rows[PLAIN_EDITOR] and "never" in rows[PLAIN_EDITOR]
    assert "End their sessions" in rows[EDITOR] and "End their sessions" not in rows[PLAIN_EDITOR]
    assert "scrypt$" not in html  # the page never shows a password's hash


def test_ending_an_accounts_sessions_logs_it_out_everywhere(app, editor, web_db):
    karim = Client(app)
    try:
        assert karim.login(PLAIN_EDITOR, PASSWORD).status_code == 303
        assert karim.get("/editions").status_code == 200
        token = editor.csrf("/accounts")
        response = editor.post("/accounts/end-sessions", data={"csrf": token, "name": PLAIN_EDITOR})
        assert response.status_code == 303
        assert "1 session of karim ended." in editor.get(response.headers["location"]).text
        # His cookie, still validly signed, is refused from now on.
        again = karim.get("/editions")
        assert again.status_code == 303 and again.headers["location"].endswith("/login")
    finally:
        karim.close()
    assert any(
        (e.action, e.actor, e.target, e.detail) == ("sessions-end", EDITOR, PLAIN_EDITOR, "1")
        for e in entries(web_db)
    )


def test_the_accounts_page_is_refused_to_editors_and_without_csrf(app, editor, web_db):
    assert editor.post("/accounts/end-sessions", data={"name": PLAIN_EDITOR}).status_code == 403
    karim = Client(app)
    try:
        karim.login(PLAIN_EDITOR, PASSWORD)
        assert karim.get("/accounts").status_code == 403
        token = karim.csrf("/editions")
        refused = karim.post("/accounts/end-sessions", data={"csrf": token, "name": EDITOR})
        assert refused.status_code == 403
    finally:
        karim.close()
    assert editor.get("/editions").status_code == 200  # amina's session was not ended
    refusals = [e for e in entries(web_db) if e.action == "refused" and e.actor == PLAIN_EDITOR]
    assert {e.target for e in refusals} == {"/accounts", "/accounts/end-sessions"}


def test_the_accounts_page_reads_in_french(editor):
    html = editor.get("/accounts?lang=fr").text
    assert "Comptes" in html and "administrateur" in html and "Sessions ouvertes" in html
