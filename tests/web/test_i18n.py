"""Each page in its reader's language: the choice (?lang=, the form), the subscriber's locale
(token), the browser's Accept-Language, the site's locale, in that order. French and Arabic
(right to left) against English, through the app in process."""

import re
from email import message_from_bytes
from email.policy import default

import pytest

from digest.i18n import accept_languages, negotiate
from digest.store.subscribers import get_subscriber
from tests.web.test_subscribers import SIGNER, member, token_for


def lang_dir(page):
    return re.search(r'<html lang="([^"]+)" dir="([^"]+)">', page.text).groups()


def h1(page):
    return re.search(r"<h1>(.*?)</h1>", page.text, re.S).group(1).strip()


@pytest.mark.parametrize(
    "header, lang, heading",
    [
        ("fr-FR,fr;q=0.9,en;q=0.5", ("fr", "ltr"), "S’inscrire"),
        ("ar-MA,ar;q=0.9", ("ar", "rtl"), "اشترك"),
        ("en-US", ("en", "ltr"), "Sign up"),
        ("de-DE, ar;q=0.4, fr;q=0.7", ("fr", "ltr"), "S’inscrire"),  # best q among ours
        ("", ("fr", "ltr"), "S’inscrire"),  # none asked: the site's locale (fr)
        ("de-DE,de;q=0.9", ("fr", "ltr"), "S’inscrire"),  # none of ours: the site's
        ("x" * 5000 + ";q=", ("fr", "ltr"), "S’inscrire"),  # garbage is ignored
    ],
)
def test_the_browser_language_else_the_sites(client, header, lang, heading):
    page = client.get("/signup", headers={"Accept-Language": header})
    assert page.status_code == 200 and "Accept-Language" in page.headers["vary"]
    assert lang_dir(page) == lang and h1(page) == heading


def test_a_choice_in_the_url_wins_and_follows_the_links(client):
    page = client.get("/signup?lang=ar", headers={"Accept-Language": "fr"})
    assert lang_dir(page) == ("ar", "rtl") and h1(page) == "اشترك"
    assert 'href="/digest/archive?lang=ar"' in page.text  # the header's links carry it on
    # The switcher offers the other languages, each named in itself.
    assert 'href="?lang=fr" hreflang="fr" lang="fr">Français<' in page.text
    assert 'href="?lang=en" hreflang="en" lang="en">English<' in page.text
    # Something that is not one of ours is not a choice.
    assert lang_dir(client.get("/signup?lang=../../x", headers={"Accept-Language": "en"})) == (
        "en",
        "ltr",
    )


def test_arabic_signup_confirmation_email_and_confirm_page(client, web_config, web_db):
    csrf = client.csrf("/signup")
    page = client.post(
        "/signup",
        data={"csrf": csrf, "email": "salma@example.net", "list": "matinale", "locale": "ar"},
    )
    assert lang_dir(page) == ("ar", "rtl") and h1(page) == "تفقّد بريدك الوارد"
    [eml] = sorted((web_config.root / "web-outbox").glob("*.eml"))
    message = message_from_bytes(eml.read_bytes(), policy=default)
    assert message["Subject"] == f"{web_config.site.name}: أكِّد اشتراكك"
    text = message.get_body(("plain",)).get_content()
    assert "طلب أحدهم (نرجو أن تكون أنت) تلقّي La matinale على هذا العنوان." in text
    assert "Someone" not in text
    html = message.get_body(("html",)).get_content()
    assert '<html lang="ar" dir="rtl">' in html and "اتبع هذا الرابط للتأكيد" in html
    # The confirmation link carries the language: its pages are Arabic for any browser.
    confirm = re.search(r"https://\S+/confirm/\S+", text).group(0)
    asking = client.get(confirm, headers={"Accept-Language": "en"})
    assert lang_dir(asking) == ("ar", "rtl") and "أكِّد اشتراكك في La matinale" in asking.text
    done = client.post(confirm, data={"csrf": client.csrf(confirm)})
    assert h1(done) == "تم الاشتراك" and "ستصلك La matinale." in done.text
    assert member(web_db, "salma@example.net").locale == "ar"


def test_french_confirmation_email_for_a_french_browser_that_picks_no_language(client, web_config):
    headers = {"Accept-Language": "fr-FR"}
    csrf = client.csrf("/signup")
    client.post(
        "/signup",
        data={"csrf": csrf, "email": "lea@example.net", "list": "matinale", "locale": ""},
        headers=headers,
    )
    [eml] = sorted((web_config.root / "web-outbox").glob("*.eml"))
    message = message_from_bytes(eml.read_bytes(), policy=default)
    assert message["Subject"].endswith(": confirmez votre inscription")
    text = message.get_body(("plain",)).get_content()
    assert "Quelqu’un (vous, nous l’espérons) a demandé à recevoir La matinale" in text
    assert '<html lang="fr" dir="ltr">' in message.get_body(("html",)).get_content()


@pytest.mark.parametrize(
    "address, lang, heading",
    [
        ("camille.martin@example.com", ("fr", "ltr"), "Se désabonner de La matinale\u00a0?"),
        ("jean.dupont@example.org", ("fr", "ltr"), "Se désabonner de La matinale\u00a0?"),  # fr_MA
        ("fatima.zahra@example.com", ("ar", "rtl"), "إلغاء الاشتراك في La matinale؟"),
        ("youssef.idrissi@example.org", ("ar", "rtl"), "إلغاء الاشتراك في La matinale؟"),  # ar_MA
        ("nadia.elamrani@example.com", ("en", "ltr"), "Unsubscribe from La matinale?"),
    ],
)
def test_unsubscribe_pages_speak_the_subscribers_language(
    client, web_db, subscribed, address, lang, heading
):
    token = token_for(web_db, address)
    # The browser asks for another language: the subscriber's own wins.
    other = "en" if lang[0] != "en" else "ar"
    page = client.get(f"/u/{token}", headers={"Accept-Language": other})
    assert lang_dir(page) == lang and h1(page) == heading
    done = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and lang_dir(done) == lang


def test_a_subscriber_without_a_locale_reads_the_browsers_language(client, web_db, subscribed):
    token = token_for(web_db, "zoe.moreau@example.org")  # no locale in the CSV
    page = client.get(f"/u/{token}", headers={"Accept-Language": "ar"})
    assert lang_dir(page) == ("ar", "rtl")


def test_preferences_show_the_address_and_keep_an_unlisted_locale(client, web_db, subscribed):
    jean = member(web_db, "jean.dupont@example.org")
    assert jean.locale == "fr_MA"
    token = SIGNER.make(jean.id, "matinale")
    page = client.get(f"/p/{token}")
    assert lang_dir(page) == ("fr", "ltr") and h1(page) == "Vos abonnements"
    assert "Pour <bdi>jean.dupont@example.org</bdi>" in page.text
    # fr_MA is not one of the listed languages: it is offered, selected, under its own name.
    assert '<option value="fr_MA" lang="fr-MA" selected>Français (Maroc)</option>' in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    # Saving the form as it came keeps fr_MA.
    saved = client.post(f"/p/{token}", data={"csrf": csrf, "lists": "matinale", "locale": "fr_MA"})
    assert saved.status_code == 200 and "Enregistré." in saved.text
    assert get_subscriber(web_db, jean.id).locale == "fr_MA"
    # A locale neither listed nor the stored one (a forged form) is not stored.
    client.post(f"/p/{token}", data={"csrf": csrf, "lists": "matinale", "locale": "de_CH"})
    assert get_subscriber(web_db, jean.id).locale is None
    # Arabic picked: the page answers in Arabic, right to left.
    arabic = client.post(f"/p/{token}", data={"csrf": csrf, "lists": "matinale", "locale": "ar"})
    assert lang_dir(arabic) == ("ar", "rtl") and "تم الحفظ." in arabic.text
    assert '<option value="fr_MA"' not in arabic.text  # no longer stored: no longer offered


def test_archive_and_error_pages(client, web_db):
    assert h1(client.get("/archive", headers={"Accept-Language": "fr"})) == "Archives"
    page = client.get("/archive", headers={"Accept-Language": "ar"})
    assert lang_dir(page) == ("ar", "rtl") and "لم يُرسل شيء بعد." in page.text
    missing = client.get("/archive/nope", headers={"Accept-Language": "ar"})
    assert missing.status_code == 404 and "لا يوجد هذا العدد في الأرشيف." in missing.text
    forged = client.get("/u/forged-token", headers={"Accept-Language": "fr"})
    assert forged.status_code == 400
    assert "Ce lien n’est pas valide (il a peut-être été coupé ou modifié)." in forged.text
    unknown = client.get("/nowhere", headers={"Accept-Language": "fr"})
    assert unknown.status_code == 404 and "Il n’y a rien ici." in unknown.text


def test_editors_pages_in_french(editor, draft):
    headers = {"Accept-Language": "fr"}
    login = editor.get("/login", headers=headers)
    assert "Se connecter" in login.text
    page = editor.get(f"/editions/{draft.id}", headers=headers)
    assert "Valider cette édition" in page.text and "Taille du HTML" in page.text
    assert "Lien de désabonnement" in page.text and "Approve" not in page.text
    arabic = editor.get(f"/editions/{draft.id}", headers={"Accept-Language": "ar"})
    assert lang_dir(arabic) == ("ar", "rtl") and "الموافقة على هذا العدد" in arabic.text
    # A choice in the URL survives the redirect after a form.
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    approved = editor.post(f"/editions/{draft.id}/approve?lang=fr", data={"csrf": csrf})
    assert approved.headers["location"].startswith(f"/digest/editions/{draft.id}?lang=fr&m=")
    assert "Validée par amina." in editor.get(approved.headers["location"]).text


def test_accept_language_parsing():
    assert accept_languages("fr-CA;q=0.5, ar;q=0.9, *;q=0.1, en;q=0") == ["ar", "fr_CA"]
    assert accept_languages("da, en-gb;q=0.8, en;q=0.7") == ["da", "en_gb", "en"]
    assert accept_languages("fr;q=abc, ar") == ["ar"]
    assert accept_languages(None) == []
    assert negotiate(["de", "fr_CA"]) == "fr"
    assert negotiate(["de"]) is None


def test_a_refused_address_is_explained_in_the_pages_language(client):
    csrf = client.csrf("/signup")
    page = client.post(
        "/signup?lang=ar",
        data={"csrf": csrf, "email": "not an address", "list": "matinale", "locale": ""},
    )
    assert page.status_code == 400 and lang_dir(page) == ("ar", "rtl")
    assert "هذا العنوان لا يمكنه استقبال البريد:" in page.text
