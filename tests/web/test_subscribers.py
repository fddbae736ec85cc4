"""Subscribers' pages: RFC 8058 one-click unsubscribe, preferences, double opt-in, archive."""

import re
from datetime import datetime
from email import message_from_bytes
from email.policy import default

from digest.delivery.loop import deliver
from digest.delivery.outbox import OutboxBackend
from digest.edition.build import edition_for_send
from digest.store.preferences import get_timezone, memberships_of
from digest.store.subscribers import count_members, get_subscriber, is_suppressed, list_members
from digest.tokens import TokenSigner
from tests.web.conftest import SECRET

SIGNER = TokenSigner(SECRET)
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def member(db, email):
    return next(m for m in list_members(db, "matinale") if m.email == email)


def token_for(db, email, list_name="matinale"):
    return SIGNER.make(member(db, email).id, list_name)


def test_get_never_unsubscribes(client, web_db, subscribed):
    token = token_for(web_db, "camille.martin@example.com")
    page = client.get(f"/u/{token}")
    assert page.status_code == 200 and "La matinale" in page.text
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert member(web_db, "camille.martin@example.com").status == "active"
    assert "set-cookie" not in page.headers  # nothing to track a reader with
    assert page.headers["referrer-policy"] == "no-referrer"  # the token must not leak


def test_one_click_post_unsubscribes_with_200_no_cookie_and_is_idempotent(
    client, web_db, subscribed
):
    token = token_for(web_db, "camille.martin@example.com")
    client.http.cookies.clear()
    first = client.post(f"/u/{token}", data=ONE_CLICK)
    assert first.status_code == 200  # never a redirect
    assert member(web_db, "camille.martin@example.com").status == "unsubscribed"
    again = client.post(f"/u/{token}", data=ONE_CLICK)
    assert again.status_code == 200
    assert count_members(web_db, "matinale")["unsubscribed"] == 1


def test_one_click_post_as_multipart(client, web_db, subscribed):
    token = token_for(web_db, "jean.dupont@example.org")
    response = client.post(f"/u/{token}", files={"List-Unsubscribe": (None, "One-Click")})
    assert response.status_code == 200
    assert member(web_db, "jean.dupont@example.org").status == "unsubscribed"


def test_forged_or_cut_tokens_are_refused(client, web_db, subscribed):
    good = token_for(web_db, "camille.martin@example.com")
    other = member(web_db, "jean.dupont@example.org").id
    forged = f"{other:x}.matinale." + good.rsplit(".", 1)[1]  # someone else's id, old signature
    foreign = TokenSigner("another key " * 4).make(other, "matinale")
    for token in (forged, good[:-3], foreign, "nonsense"):
        for method in ("GET", "POST"):
            response = client.request(method, f"/u/{token}", data=ONE_CLICK)
            assert response.status_code == 400, (token, method)
        assert client.get(f"/p/{token}").status_code == 400
    assert count_members(web_db, "matinale")["unsubscribed"] == 0


def test_one_click_unsubscribe_stops_the_next_send(
    client, web_config, web_db, subscribed, tmp_path
):
    """Send, unsubscribe through the List-Unsubscribe URL of the email itself, send again."""
    first_out, second_out = tmp_path / "day1", tmp_path / "day2"
    stored, _ = edition_for_send(
        web_config,
        web_db,
        list_name="matinale",
        now=datetime.fromisoformat("2025-07-01T08:00:00+01:00"),
    )
    report = deliver(web_config, web_db, stored, OutboxBackend(first_out), signer=SIGNER)
    assert report.sent == subscribed.added
    leaving = "helene.lefevre@example.com"
    sid = member(web_db, leaving).id
    message = message_from_bytes(
        (first_out / f"{stored.id}.{sid}.eml").read_bytes(), policy=default
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.search(r"<(https://[^>]+)>", message["List-Unsubscribe"]).group(1)
    assert url.startswith("https://www.example.ma/digest/u/")
    client.http.cookies.clear()
    response = client.post(url, data=ONE_CLICK)  # what a mail client does: no cookie, no auth
    assert response.status_code == 200

    stored2, _ = edition_for_send(
        web_config,
        web_db,
        list_name="matinale",
        now=datetime.fromisoformat("2025-07-02T08:00:00+01:00"),
    )
    assert stored2.id != stored.id
    report2 = deliver(web_config, web_db, stored2, OutboxBackend(second_out), signer=SIGNER)
    assert report2.sent == subscribed.added - 1
    sent_to = {
        message_from_bytes(p.read_bytes(), policy=default)["To"].addresses[0].addr_spec
        for p in second_out.glob("*.eml")
    }
    assert leaving not in sent_to and len(sent_to) == subscribed.added - 1
    assert not (second_out / f"{stored2.id}.{sid}.eml").exists()


def test_preferences_change_lists_and_language(client, web_db, subscribed):
    sid = member(web_db, "camille.martin@example.com").id
    token = SIGNER.make(sid, "matinale")
    page = client.get(f"/p/{token}")
    assert page.status_code == 200 and 'value="matinale" checked' in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    saved = client.post(f"/p/{token}", data={"csrf": csrf, "locale": "ar"})  # no list ticked
    # The page is in the reader's language: Arabic once saved (French before).
    assert saved.status_code == 200 and "تم الحفظ." in saved.text
    assert memberships_of(web_db, sid) == {"matinale": "unsubscribed"}
    assert get_subscriber(web_db, sid).locale == "ar"
    client.post(f"/p/{token}", data={"csrf": csrf, "lists": "matinale", "locale": ""})
    assert memberships_of(web_db, sid) == {"matinale": "active"}
    assert get_subscriber(web_db, sid).locale is None
    assert client.post(f"/p/{token}", data={"locale": "en"}).status_code == 403  # no CSRF


def test_preferences_set_the_readers_time_zone(client, web_db, subscribed):
    sid = member(web_db, "camille.martin@example.com").id
    token = SIGNER.make(sid, "matinale")
    page = client.get(f"/p/{token}")
    assert "Le fuseau horaire du site (Africa/Casablanca)" in page.text  # Camille reads French
    assert '<option value="America/New_York" >' in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    form = {"csrf": csrf, "lists": "matinale", "timezone": "America/New_York"}
    saved = client.post(f"/p/{token}", data=form)
    assert '<option value="America/New_York" selected>' in saved.text
    assert get_timezone(web_db, sid) == "America/New_York"
    # A forged zone is not stored; the reader falls back to the site's.
    client.post(f"/p/{token}", data={**form, "timezone": "Mars/Olympus_Mons"})
    assert get_timezone(web_db, sid) is None
    client.post(f"/p/{token}", data={**form, "timezone": "europe/paris"})  # name as IANA spells it
    assert get_timezone(web_db, sid) == "Europe/Paris"


def _outbox(config):
    return sorted((config.root / "web-outbox").glob("*.eml"))


def test_signup_is_double_opt_in(client, web_config, web_db):
    csrf = client.csrf("/signup")
    page = client.post(
        "/signup",
        data={"csrf": csrf, "email": "nadia@example.net", "list": "matinale", "locale": "fr"},
    )
    # French was picked: the page and the email are French, whatever the browser's language.
    assert page.status_code == 200 and "Consultez votre boîte de réception" in page.text
    assert not known(web_db, "nadia@example.net")
    [eml] = _outbox(web_config)
    message = message_from_bytes(eml.read_bytes(), policy=default)
    assert message["To"] == "nadia@example.net"
    link = re.search(r"https://\S+/confirm/\S+", message.get_body(("plain",)).get_content())
    confirm = link.group(0)
    # Following the link only asks; the button subscribes.
    assert "Confirmer" in client.get(confirm).text
    assert not known(web_db, "nadia@example.net")
    done = client.post(confirm, data={"csrf": client.csrf(confirm)})
    assert done.status_code == 200 and "Inscription confirmée" in done.text
    [m] = [m for m in list_members(web_db, "matinale") if m.email == "nadia@example.net"]
    assert m.status == "active" and m.locale == "fr"
    tampered = confirm[:-2] + ("AA" if not confirm.endswith("AA") else "BB")
    assert client.get(tampered).status_code == 400


def known(db, email):
    """Whether the address is stored at all (subscribed or not)."""
    from sqlalchemy import select

    from digest.store import schema as t

    with db.read() as conn:
        return (
            conn.scalar(select(t.subscribers.c.id).where(t.subscribers.c.email == email))
            is not None
        )


def test_signup_reveals_nothing_and_is_rate_limited(client, web_config, web_db, subscribed):
    known = client.post(
        "/signup",
        data={
            "csrf": client.csrf("/signup"),
            "list": "matinale",
            "email": "camille.martin@example.com",
        },
    )
    unknown = client.post(
        "/signup",
        data={"csrf": client.csrf("/signup"), "list": "matinale", "email": "nobody@example.net"},
    )
    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text
    statuses = [
        client.post(
            "/signup",
            data={"csrf": client.csrf("/signup"), "list": "matinale", "email": f"r{i}@example.net"},
        ).status_code
        for i in range(5)
    ]
    assert statuses[-1] == 429
    assert (
        client.post("/signup", data={"email": "x@example.net", "list": "matinale"}).status_code
        == 403
    )  # no CSRF token


def test_unsubscribed_then_signs_up_again(client, web_db, subscribed):
    from digest.store.preferences import confirm_signup
    from digest.store.subscribers import unsubscribe

    unsubscribe(web_db, "camille.martin@example.com")  # from every list: a global suppression
    assert is_suppressed(web_db, "camille.martin@example.com")
    confirm_signup(web_db, "camille.martin@example.com", "matinale")
    assert not is_suppressed(web_db, "camille.martin@example.com")
    assert member(web_db, "camille.martin@example.com").status == "active"


def test_archive_shows_sent_editions_without_personal_data(
    client, web_config, web_db, subscribed, draft, tmp_path
):
    from digest.store.editions import approve_edition

    assert client.get(f"/archive/{draft.id}").status_code == 404  # a draft is not public
    approve_edition(web_db, draft.id, by="test")
    from digest.store.editions import get_edition

    deliver(
        web_config,
        web_db,
        get_edition(web_db, draft.id),
        OutboxBackend(tmp_path / "o"),
        signer=SIGNER,
    )
    index = client.get("/archive")
    assert f"/digest/archive/{draft.id}" in index.text
    page = client.get(f"/archive/{draft.id}")
    assert page.status_code == 200
    assert "/digest/u/" not in page.text and "/digest/p/" not in page.text
    assert "__dg" not in page.text
    for m in list_members(web_db, "matinale"):
        assert m.email not in page.text
        assert not m.name or m.name not in page.text
    assert client.get("/unsubscribe").status_code == 200  # where the archive's link leads
