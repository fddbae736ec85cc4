"""The audience pages in process: admin only (refusals audited), CSRF on every POST, search,
a subscriber's page and its actions, erasure (then refused by import, signup and the API),
suppressions and their lift, CSV import and export through the store's own rules."""

import re

from sqlalchemy import select

from digest.store import audit
from digest.store import schema as t
from digest.store.api_tokens import create_token
from digest.store.erasures import is_erased
from digest.store.subscribers import is_suppressed, suppress
from tests.web.conftest import PLAIN_EDITOR
from tests.web.test_subscribers import member

CAMILLE = "camille.martin@example.com"


def sid(db, email=CAMILLE):
    return member(db, email).id


def csrf(client, path="/audience"):
    return client.csrf(path)


def test_an_editor_is_refused_every_audience_page_and_action_and_it_is_audited(
    client, web_db, subscribed
):
    client.login(PLAIN_EDITOR)
    token = client.csrf("/editions")
    one = sid(web_db)
    for path in (
        "/audience",
        f"/audience/{one}",
        "/audience/suppressions",
        "/audience/import",
        "/audience/export?list=matinale",
    ):
        assert client.get(path).status_code == 403, path
    for path in (
        "/audience/add",
        f"/audience/{one}/profile",
        f"/audience/{one}/lists",
        f"/audience/{one}/erase",
        "/audience/suppressions/lift",
        "/audience/import",
    ):
        assert client.post(path, data={"csrf": token, "email": CAMILLE}).status_code == 403, path
    refused = [e for e in audit.entries(web_db, limit=100) if e.action == "refused"]
    assert len(refused) == 11 and all(e.actor == PLAIN_EDITOR for e in refused)
    assert not is_erased(web_db, CAMILLE)


def test_every_post_needs_the_csrf_token(editor, web_db, subscribed):
    one = sid(web_db)
    for path in (
        "/audience/add",
        f"/audience/{one}/profile",
        f"/audience/{one}/lists",
        f"/audience/{one}/erase",
        "/audience/suppressions/lift",
    ):
        refused = editor.post(
            path,
            data={"email": CAMILLE, "confirm": "yes", "list": "matinale", "action": "unsubscribe"},
        )
        assert refused.status_code == 403 and "expired" in refused.text, path
    assert member(web_db, CAMILLE).status == "active" and not is_erased(web_db, CAMILLE)


def test_search_by_address_name_and_list(editor, web_db, subscribed):
    found = editor.get("/audience?q=camille.martin@")
    assert found.status_code == 200
    assert f'/audience/{sid(web_db)}"' in found.text and "1 subscribers match" in found.text
    by_name = editor.get("/audience?q=Bennani&list=matinale")
    assert "salma.bennani@example.com" in by_name.text and CAMILLE not in by_name.text


def test_the_subscriber_page_edits_and_lists(editor, web_db, subscribed):
    one = sid(web_db)
    shown = editor.get(f"/audience/{one}")
    assert CAMILLE in shown.text and "Camille Martin" in shown.text
    token = csrf(editor, f"/audience/{one}")
    saved = editor.post(
        f"/audience/{one}/profile",
        data={"csrf": token, "name": "Camille M.", "locale": "ar", "timezone": "Africa/Casablanca"},
    )
    assert saved.status_code == 303
    with web_db.read() as conn:
        row = conn.execute(select(t.subscribers).where(t.subscribers.c.id == one)).one()
    assert (row.name, row.locale, row.timezone) == ("Camille M.", "ar", "Africa/Casablanca")
    left = editor.post(
        f"/audience/{one}/lists", data={"csrf": token, "list": "matinale", "action": "unsubscribe"}
    )
    assert left.status_code == 303 and member(web_db, CAMILLE).status == "unsubscribed"
    # Consent: an admin cannot put back someone who left; only they can.
    again = editor.post(
        f"/audience/{one}/lists", data={"csrf": token, "list": "matinale", "action": "subscribe"}
    )
    assert again.status_code == 409 and member(web_db, CAMILLE).status == "unsubscribed"
    actions = [e.action for e in audit.entries(web_db, limit=20)]
    assert {"subscriber-edit", "subscriber-unsubscribe", "subscriber-subscribe-refused"} <= set(
        actions
    )


def test_add_follows_the_importers_rules(editor, web_db, subscribed):
    token = csrf(editor)
    added = editor.post(
        "/audience/add",
        data={"csrf": token, "email": "nadia@example.ma", "name": "Nadia", "list": "matinale"},
    )
    assert added.status_code == 200 and "nadia@example.ma is subscribed" in added.text
    assert member(web_db, "nadia@example.ma").status == "active"
    suppress(web_db, "bounced@example.ma", "bounce", "sendgrid-webhook")
    refused = editor.post(
        "/audience/add", data={"csrf": token, "email": "bounced@example.ma", "list": "matinale"}
    )
    assert refused.status_code == 409 and "suppressed" in refused.text
    bad = editor.post(
        "/audience/add", data={"csrf": token, "email": "not an address", "list": "matinale"}
    )
    assert bad.status_code == 400 and "Not added" in bad.text


def test_erase_then_nothing_brings_the_address_back(editor, client, web_db, subscribed):
    one = sid(web_db)
    token = csrf(editor, f"/audience/{one}")
    unticked = editor.post(f"/audience/{one}/erase", data={"csrf": token})
    assert unticked.status_code == 400
    erased = editor.post(f"/audience/{one}/erase", data={"csrf": token, "confirm": "yes"})
    assert erased.status_code == 303 and "m=erased" in erased.headers["location"]
    assert editor.get(f"/audience/{one}").status_code == 404
    assert is_erased(web_db, CAMILLE) and is_suppressed(web_db, CAMILLE)
    entry = next(e for e in audit.entries(web_db, limit=10) if e.action == "subscriber-erase")
    assert entry.target == f"subscriber:{one}" and CAMILLE not in (entry.detail or "")

    # The browser's CSV import, the API and the signup form: not added, nothing stored.
    upload = editor.post(
        "/audience/import",
        data={"csrf": token, "list": "matinale"},
        files={"file": ("again.csv", f"email,name\n{CAMILLE},Camille\n".encode())},
    )
    assert upload.status_code == 200 and "1 erased on request, not imported" in upload.text
    api_token = create_token(web_db, "script", "write", by="test")
    api = editor.post(
        "/api/lists/matinale/subscribers",
        json={"email": CAMILLE},
        headers={"Authorization": f"Bearer {api_token}"},
    )
    assert api.status_code == 200 and api.json()["added"] == 0, api.text
    signup = client.post(
        "/signup", data={"csrf": client.csrf("/signup"), "email": CAMILLE, "list": "matinale"}
    )
    assert signup.status_code == 200
    with web_db.read() as conn:
        keys = set(conn.scalars(select(t.subscribers.c.email_key)))
        keys |= set(conn.scalars(select(t.suppressions.c.email_key)))
    assert CAMILLE not in keys
    # The suppressions page shows it as "erased", without an address or a lift.
    page = editor.get("/audience/suppressions")
    assert "erased on request" in page.text and CAMILLE not in page.text


def test_suppressions_lift_but_never_an_erasure(editor, web_db, subscribed):
    suppress(web_db, "bounced@example.ma", "bounce", "sendgrid-webhook")
    page = editor.get("/audience/suppressions")
    assert "bounced@example.ma" in page.text and "sendgrid-webhook" in page.text
    token = csrf(editor, "/audience/suppressions")
    lifted = editor.post(
        "/audience/suppressions/lift", data={"csrf": token, "email": "bounced@example.ma"}
    )
    assert lifted.status_code == 303 and not is_suppressed(web_db, "bounced@example.ma")
    assert any(e.action == "suppression-lift" for e in audit.entries(web_db, limit=5))
    from digest.store.erasure import erase

    erase(web_db, "gone@example.ma")
    refused = editor.post(
        "/audience/suppressions/lift", data={"csrf": token, "email": "gone@example.ma"}
    )
    assert refused.status_code == 400 and is_erased(web_db, "gone@example.ma")


def test_import_reports_rows_like_the_cli_and_export_streams_the_same_columns(
    editor, web_db, subscribed
):
    token = csrf(editor, "/audience/import")
    body = "email;name\nnew.one@example.ma;New One\nnot-an-address;X\n" + f"{CAMILLE};Camille\n"
    done = editor.post(
        "/audience/import",
        data={"csrf": token, "list": "matinale"},
        files={"file": ("people.csv", body.encode())},
    )
    assert done.status_code == 200
    assert re.search(r"1 added, 1 updated, 0 unchanged, 1 rejected", done.text), done.text
    assert "not-an-address" in done.text  # the rejected row, with its line and reason
    broken = editor.post(
        "/audience/import",
        data={"csrf": token, "list": "matinale"},
        files={"file": ("x.csv", b"\x00\x01\x02")},
    )
    assert broken.status_code == 400
    export = editor.get("/audience/export?list=matinale")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    lines = export.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "email,name,locale,status" and any(
        line.startswith("new.one@example.ma,") for line in lines
    )
    assert editor.get("/audience/export?list=nope").status_code == 404


def test_import_has_a_larger_body_limit_than_forms(editor, app):
    from digest.web.audience_io import IMPORT_MAX
    from digest.web.bodylimit import FORM_MAX

    assert IMPORT_MAX > FORM_MAX
    token = csrf(editor, "/audience/import")
    big = b"email\n" + b"".join(f"r{i}@example.ma\n".encode() for i in range(80_000))
    assert len(big) > FORM_MAX
    done = editor.post(
        "/audience/import",
        data={"csrf": token, "list": "matinale"},
        files={"file": ("big.csv", big)},
    )
    assert done.status_code == 200 and "80000 added" in done.text
    too_big = editor.post(
        "/audience/add",
        content=b"x" * (FORM_MAX + 1),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert too_big.status_code == 413


def test_the_subscriber_page_shows_editions_received_and_their_events(editor, web_db, draft):
    from sqlalchemy import insert

    from digest.store.events import record_event

    one = sid(web_db)
    with web_db.write() as conn:
        delivery = conn.execute(
            insert(t.deliveries).values(
                edition_id=draft.id, subscriber_id=one, status="sent", updated_at=t.utcnow()
            )
        ).inserted_primary_key[0]
    record_event(
        web_db,
        sg_event_id="ev-open-1",
        kind="open",
        edition_id=draft.id,
        delivery_id=delivery,
        occurred_at=t.utcnow(),
    )
    shown = editor.get(f"/audience/{one}")
    received = shown.text[shown.text.index('id="received"') :]
    assert draft.id in received and "sent" in received
    events = shown.text[shown.text.index('id="events"') :]
    assert "open" in events and draft.id in events


def test_signup_mails_nothing_to_an_erased_address_and_its_old_link_subscribes_nobody(
    client, web_config, web_db
):
    from email import message_from_bytes
    from email.policy import default

    from digest.store.erasure import erase

    outbox = web_config.root / "web-outbox"
    form = {"email": "nadia@example.net", "list": "matinale", "locale": "fr"}
    client.post("/signup", data={"csrf": client.csrf("/signup"), **form})
    [eml] = sorted(outbox.glob("*.eml"))
    body = message_from_bytes(eml.read_bytes(), policy=default).get_body(("plain",)).get_content()
    confirm = re.search(r"https://\S+/confirm/\S+", body).group(0)
    erase(web_db, "nadia@example.net")  # asked before following the link
    done = client.post(confirm, data={"csrf": client.csrf(confirm)})
    assert done.status_code == 409
    with web_db.read() as conn:
        assert conn.scalar(select(t.subscribers.c.id)) is None
    # An address erased before it signs up gets no confirmation at all (a new address: the
    # one-per-hour rule has nothing to do with it), and the page says what it says to anyone.
    eml.unlink()
    erase(web_db, "gone@example.net")
    again = client.post(
        "/signup", data={"csrf": client.csrf("/signup"), **form, "email": "gone@example.net"}
    )
    assert again.status_code == 200 and "Consultez votre boîte" in again.text
    assert not list(outbox.glob("*.eml"))


def test_the_pages_read_in_french_and_arabic(editor, web_db, subscribed):
    one = sid(web_db)
    french = editor.get(f"/audience/{one}?lang=fr")
    assert "Effacer cet abonné" in french.text and "Désabonner de La matinale" in french.text
    arabic = editor.get("/audience?lang=ar")
    assert 'dir="rtl"' in arabic.text and "إضافة مشترك" in arabic.text
    assert "الحظر" in editor.get("/audience/suppressions?lang=ar").text
