"""Editors see each variant of a multi-locale edition; one approval covers all of them; an edit
renders every variant again; the archive serves each variant."""

from datetime import datetime

import pytest
from markupsafe import escape
from sqlalchemy import update

from digest.edition.build import edition_for_send
from digest.edition.edits import story_key
from digest.store import schema as t
from digest.store.csvio import read_subscriber_csv
from digest.store.editions import claim_edition, get_edition
from digest.store.subscribers import import_subscribers
from tests.conftest import SAMPLE_NOW

READERS = "email,name,locale\na@example.ma,Amina,fr\nf@example.ma,فاطمة,ar\nj@example.com,John,en\n"


@pytest.fixture
def multi(web_config, web_db):
    import_subscribers(web_db, "matinale", read_subscriber_csv(READERS.encode("utf-8")))
    stored, _ = edition_for_send(
        web_config,
        web_db,
        list_name="matinale",
        now=datetime.fromisoformat(SAMPLE_NOW),
        needs_approval=True,
    )
    assert [v.locale for v in stored.all_variants()] == ["fr", "ar", "en"]
    return stored


def test_the_draft_page_shows_each_variant(editor, multi):
    url = f"/editions/{multi.id}"
    page = editor.get(url).text
    assert 'id="variants"' in page
    assert f'href="/digest{url}?variant=ar"' in page and f'href="/digest{url}?variant=en"' in page
    assert escape(multi.edition.subject) in page
    assert "every variant: fr, ar, en" in page

    ar = multi.variants[0]
    page = editor.get(f"{url}?variant=ar").text
    assert escape(ar.edition.subject) in page and 'lang="ar" dir="rtl"' in page
    assert "preview.html?variant=ar" in page
    assert "باختصار" in page  # the Arabic text part
    preview = editor.get(f"{url}/preview.html?variant=ar").text
    assert 'lang="ar"' in preview and 'dir="rtl"' in preview and "__dg" not in preview
    text = editor.get(f"{url}/preview.txt?variant=en").text
    assert "Tuesday, July 1, 2025" in text and "Unsubscribe" in text
    assert "Se désabonner" in editor.get(f"{url}/preview.txt").text


def test_one_approval_covers_every_variant_and_an_edit_renders_each_again(editor, multi, web_db):
    url = f"/editions/{multi.id}"
    editor.post(f"{url}/approve", data={"csrf": editor.csrf(url)})
    assert get_edition(web_db, multi.id).approved_at is not None

    dropped = multi.edition.ticker[0]
    assert dropped.title in multi.variants[0].rendered.html
    response = editor.post(
        f"{url}/stories",
        data={
            "csrf": editor.csrf(url),
            "action": "drop",
            "key": story_key(dropped),
            "variant": "ar",
        },
    )
    assert response.status_code == 303 and "variant=ar" in response.headers["location"]
    after = get_edition(web_db, multi.id)
    assert after.approved_at is None  # an edit withdraws the approval of every variant
    assert [v.locale for v in after.all_variants()] == ["fr", "ar", "en"]
    for v in after.all_variants():
        assert dropped.title not in v.rendered.html, v.locale
    assert 'lang="ar"' in after.variants[0].rendered.html

    editor.post(f"{url}/approve", data={"csrf": editor.csrf(url)})
    assert claim_edition(web_db, multi.id, "t", backend="outbox") == "ready"


def test_the_archive_serves_each_variant(client, multi, web_db):
    with web_db.write() as conn:
        conn.execute(update(t.editions).values(status="sent"))
    default = client.get(f"/archive/{multi.id}").text
    arabic = client.get(f"/archive/{multi.id}?lang=ar").text
    assert 'lang="fr"' in default and 'lang="ar"' in arabic and 'dir="rtl"' in arabic
    # The Arabic variant's "view online" link leads back to the Arabic variant.
    assert f"/archive/{multi.id}?lang=ar" in arabic
    assert f"/archive/{multi.id}?lang" not in default


def test_rewrites_and_added_stories_change_the_default_variant_only(editor, multi, web_db):
    """Typed in the default language; a promotion applies to every variant sharing the story."""
    url = f"/editions/{multi.id}"
    first = multi.edition.ticker[0]
    editor.post(
        f"{url}/rewrite",
        data={"csrf": editor.csrf(url), "key": story_key(first), "title": "Réécrit"},
    )
    editor.post(
        f"{url}/add",
        data={"csrf": editor.csrf(url), "title": "Ajout à la main", "url": "", "role": "ticker"},
    )
    shared = next(
        s
        for s in multi.edition.ticker
        if any(story_key(s) == story_key(o) for o in multi.variants[0].edition.ticker)
    )
    editor.post(
        f"{url}/role", data={"csrf": editor.csrf(url), "key": story_key(shared), "role": "featured"}
    )
    after = get_edition(web_db, multi.id)
    assert "Réécrit" in after.rendered.html and "Ajout à la main" in after.rendered.html
    for variant in after.variants:
        assert "Réécrit" not in variant.rendered.html
        assert "Ajout à la main" not in variant.rendered.html
    ar = after.variants[0].edition
    assert story_key(shared) in [story_key(s) for s in ar.featured]
    # The variant's page offers no rewrite form (it would be typed in the wrong language).
    assert (
        'action="/digest/editions/' + multi.id + "/rewrite"
        not in editor.get(f"{url}?variant=ar").text
    )
