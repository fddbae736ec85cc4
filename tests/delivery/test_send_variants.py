"""One list, readers in French, Arabic and English: one variant per locale, each rendered once,
and each reader's .eml in their language (lang/dir, strings, subject, preheader, date)."""

import json
from datetime import datetime
from email import message_from_bytes
from email.policy import default

import pytest
from sqlalchemy import func, select

from digest.config import load_config
from digest.delivery.loop import deliver
from digest.delivery.outbox import OutboxBackend
from digest.edition.build import edition_for_send
from digest.locale import long_date
from digest.render import pipeline
from digest.store import schema as t
from digest.store.csvio import read_subscriber_csv
from digest.store.editions import get_edition
from digest.store.subscribers import import_subscribers
from digest.tokens import TokenSigner
from tests.conftest import ROOT, SAMPLE_NOW

SIGNER = TokenSigner("k" * 40)
NOW = datetime.fromisoformat(SAMPLE_NOW)
ARABIC_FEED = ROOT / "samples" / "feed-ar.xml"

SUBJECTS = """
[edition]
subject = { fr = "La matinale du {date} : {top}", ar = "صباح {date}: {top}", en = "The Morning, {date}: {top}" }
preheader = { fr = "Ce matin : {top}", ar = "هذا الصباح: {top}", en = "This morning: {top}" }
"""

READERS = [
    ("amina@example.ma", "Amina", "fr"),
    ("fatima@example.ma", "فاطمة", "ar"),
    ("john@example.com", "John", "en"),
    ("karim@example.ma", "Karim", "fr_MA"),  # language match: the fr variant
    ("layla@example.ma", "Layla", "ar_MA"),  # language match: the ar variant
    ("nadia@example.ma", "Nadia", ""),  # no locale: the list's default
    ("hans@example.de", "Hans", "de"),  # a locale the list does not offer: the default
]


def configure(site, extra: str = "", list_extra: str = ""):
    text = site.read_text("utf-8")
    text = text.replace(
        '[lists.matinale]\ntitle = "La matinale"\n',
        '[lists.matinale]\ntitle = "La matinale"\n' + list_extra,
    )
    site.write_text(SUBJECTS + extra + text, "utf-8")
    return load_config(site, env={})


def subscribe(db, readers=READERS):
    body = "email,name,locale\n" + "".join(f"{e},{n},{loc}\n" for e, n, loc in readers)
    import_subscribers(db, "matinale", read_subscriber_csv(body.encode("utf-8")))


def send(config, db, out):
    stored, _ = edition_for_send(config, db, list_name="matinale", now=NOW)
    return stored, deliver(config, db, stored, OutboxBackend(out), signer=SIGNER)


def by_reader(out):
    found = {}
    for path in sorted(out.glob("*.eml")):
        msg = message_from_bytes(path.read_bytes(), policy=default)
        found[msg["To"].addresses[0].addr_spec] = msg
    return found


def html_of(msg):
    return msg.get_body(("html",)).get_content()


def text_of(msg):
    return msg.get_body(("plain",)).get_content()


def test_each_reader_gets_the_variant_of_their_locale_rendered_once_each(
    site, db, tmp_path, monkeypatch
):
    config = configure(site)
    subscribe(db)
    calls = {"mjml": 0}
    real = pipeline.mjml2html

    def counting(*a, **kw):
        calls["mjml"] += 1
        return real(*a, **kw)

    monkeypatch.setattr(pipeline, "mjml2html", counting)
    stored, report = send(config, db, tmp_path / "out")
    assert report.sent == len(READERS) and report.total == len(READERS)
    assert calls["mjml"] == 3  # fr, ar, en: once each, never per reader
    assert [v.locale for v in stored.all_variants()] == ["fr", "ar", "en"]

    mail = by_reader(tmp_path / "out")
    assert len(mail) == len(READERS)
    lang_of = {"fr": ("fr", "ltr"), "ar": ("ar", "rtl"), "en": ("en", "ltr")}
    expect = {
        "amina@example.ma": "fr",
        "fatima@example.ma": "ar",
        "john@example.com": "en",
        "karim@example.ma": "fr",
        "layla@example.ma": "ar",
        "nadia@example.ma": "fr",
        "hans@example.de": "fr",
    }
    date = {loc: long_date(NOW.astimezone(config.site.tz), loc) for loc in lang_of}
    for address, locale in expect.items():
        msg = mail[address]
        html, text = html_of(msg), text_of(msg)
        lang, direction = lang_of[locale]
        assert f'lang="{lang}"' in html and f'dir="{direction}"' in html, address
        subject = str(msg["Subject"])
        assert date[locale] in subject, (address, subject)
        assert date[locale] in html
        if locale == "fr":
            assert (
                subject.startswith("La matinale du ") and "Ce matin\u00a0: " in html
            )  # French typography: no-break space
            assert "À la une" in html and "Se désabonner" in text
        elif locale == "ar":
            assert subject.startswith("صباح ") and "هذا الصباح: " in html
            assert "إلغاء الاشتراك" in text and "La matinale du" not in subject
        else:
            assert subject.startswith("The Morning, ") and "This morning: " in html
            assert "Unsubscribe" in text and "Top stories" in html
    assert "مرحبًا فاطمة،" in html_of(mail["fatima@example.ma"])
    assert "Bonjour فاطمة" not in html_of(mail["fatima@example.ma"])
    assert "Hello John," in html_of(mail["john@example.com"])
    assert "Bonjour Karim," in html_of(mail["karim@example.ma"])

    # One ledger row per reader and edition, as with one variant.
    with db.read() as conn:
        rows = conn.scalar(select(func.count()).select_from(t.deliveries))
        variants = conn.scalar(select(func.count()).select_from(t.edition_variants))
    assert rows == len(READERS) and variants == 2


def test_a_list_whose_readers_share_one_locale_stores_as_before(site, db, tmp_path):
    config = configure(site)
    subscribe(db, [("amina@example.ma", "Amina", "fr"), ("nadia@example.ma", "Nadia", "")])
    stored, report = send(config, db, tmp_path / "out")
    assert report.sent == 2 and stored.variants == ()
    with db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(t.edition_variants)) == 0
        data = json.loads(conn.scalar(select(t.editions.c.edition_json)))
    assert "variants" not in data and data["locale"] == "fr"


def test_an_arabic_feed_for_the_ar_variant_sends_arabic_stories_to_arabic_readers(
    site, db, tmp_path
):
    config = configure(
        site,
        list_extra=(
            "[lists.matinale.variants.ar]\n"
            f'sources = [{{ name = "akhbar", kind = "rss", path = "{ARABIC_FEED}" }}]\n'
        ),
    )
    subscribe(db)
    stored, report = send(config, db, tmp_path / "out")
    assert report.sent == len(READERS)
    ar = next(v for v in stored.variants if v.locale == "ar")
    assert ar.edition.ticker[0].source == "akhbar"
    assert {s.source for s in ar.edition.ticker} == {"akhbar"}
    en = next(v for v in stored.variants if v.locale == "en")
    assert {s.source for s in (*en.edition.ticker, *en.edition.featured)} == {"homepage"}

    mail = by_reader(tmp_path / "out")
    arabic_story = "توقع نمو الاقتصاد المغربي"
    french_story = "Vague de chaleur"
    for address in ("fatima@example.ma", "layla@example.ma"):
        html = html_of(mail[address])
        assert arabic_story in html and french_story not in html
        assert arabic_story in str(mail[address]["Subject"]) or "المغرب" in str(
            mail[address]["Subject"]
        )
    for address in ("amina@example.ma", "john@example.com"):
        html = html_of(mail[address])
        assert french_story in html and arabic_story not in html

    # A resume in another process reads the same variants back from the database.
    again = get_edition(db, stored.id)
    assert [v.locale for v in again.all_variants()] == ["fr", "ar", "en"]
    assert again.variants[0].rendered.html == ar.rendered.html


@pytest.mark.parametrize("offer", ['locales = ["fr"]'])
def test_a_list_that_offers_one_locale_sends_it_to_everyone(site, db, tmp_path, offer):
    config = configure(site, list_extra=offer + "\n")
    subscribe(db)
    stored, report = send(config, db, tmp_path / "out")
    assert stored.variants == () and report.sent == len(READERS)
    for msg in by_reader(tmp_path / "out").values():
        assert 'lang="fr"' in html_of(msg)


class RefusesFrench(OutboxBackend):
    """The outbox, except that the provider refuses the French variant's batch."""

    def send_batch(self, job, batch):
        from digest.errors import DeliveryRefused

        if job.edition.locale == "fr":
            raise DeliveryRefused("refused: the French template is broken")
        return super().send_batch(job, batch)


def test_a_pause_on_one_variant_leaves_the_other_variants_rows_pending(site, db, tmp_path):
    from digest.store import ledger

    config = configure(site)
    subscribe(db)
    stored, _ = edition_for_send(config, db, list_name="matinale", now=NOW)
    report = deliver(config, db, stored, RefusesFrench(tmp_path / "out"), signer=SIGNER)
    assert report.status == "paused" and "refused" in report.reason
    counts = ledger.counts(db, stored.id)
    # The four French-variant readers failed; the others were never handed over: pending,
    # neither 'sending' nor 'unknown' (a resume sends them without --resend-unknown).
    assert counts["failed"] == 4 and counts["pending"] == 3
    assert counts["sending"] == counts["unknown"] == counts["sent"] == 0
    resumed = deliver(config, db, stored, OutboxBackend(tmp_path / "out"), signer=SIGNER)
    assert resumed.sent == 3
    assert set(by_reader(tmp_path / "out")) == {
        "fatima@example.ma",
        "john@example.com",
        "layla@example.ma",
    }


def test_a_variant_whose_own_feed_fails_is_left_out_and_its_readers_get_the_default(
    site, db, tmp_path
):
    config = configure(
        site,
        list_extra=(
            "[lists.matinale.variants.ar]\n"
            f'sources = [{{ name = "akhbar", kind = "rss", path = "{tmp_path / "missing.xml"}" }}]\n'
        ),
    )
    subscribe(db)
    stored, built = edition_for_send(config, db, list_name="matinale", now=NOW)
    assert [v.locale for v in stored.all_variants()] == ["fr", "en"]
    assert any("no ar variant" in w and "akhbar" in w for w in built.warnings)
    deliver(config, db, stored, OutboxBackend(tmp_path / "out"), signer=SIGNER)
    assert 'lang="fr"' in html_of(by_reader(tmp_path / "out")["fatima@example.ma"])
