"""Content editing on the draft page: rewrite a headline or a lede, add a story, promote and
demote, the note's light formatting; each change rendered again at once, recorded, and telling
the editor when it withdrew an approval. In process, on a real SQLite file."""

import json
import re

import lxml.html
from markupsafe import escape
from sqlalchemy import update

from digest.edition.edits import story_key
from digest.store import audit
from digest.store import schema as t
from digest.store.editions import get_edition
from tests.web.conftest import EDITOR, PLAIN_EDITOR

WITHDRAWN = "This edition was approved; your change withdrew the approval: approve it again."


def post(client, draft, what, **data):
    url = f"/editions/{draft.id}"
    return client.post(f"{url}/{what}", data={"csrf": client.csrf(url), **data})


def shown(client, response):
    assert response.status_code == 303, response.text
    return client.get(response.headers["location"]).text


def test_rewrite_a_ticker_headline_and_a_featured_lede(editor, draft, web_db):
    item, feature = draft.edition.ticker[1], draft.edition.featured[0]
    page = shown(editor, post(editor, draft, "rewrite", key=story_key(item), title="Titre revu"))
    after = get_edition(web_db, draft.id)
    assert after.edition.ticker[1].title == "Titre revu"
    assert "Titre revu" in after.rendered.html and "Titre revu" in after.rendered.text
    assert escape(item.title) not in after.rendered.html
    assert "Titre revu" in page and "Saved and rendered again." in page
    post(
        editor,
        draft,
        "rewrite",
        key=story_key(feature),
        title=feature.title,  # unchanged: the source's headline stays
        lede="Un chapeau écrit par la rédaction.\n\nEn deux paragraphes.",
    )
    after = get_edition(web_db, draft.id)
    rewritten = after.edits["rewritten"]
    assert rewritten[story_key(feature)] == {
        "lede": "Un chapeau écrit par la rédaction.\n\nEn deux paragraphes."
    }
    assert after.edition.featured[0].paragraphs[0] == "Un chapeau écrit par la rédaction."
    assert "Un chapeau écrit par la rédaction." in after.rendered.html
    assert after.edition.ticker[1].title == "Titre revu"  # the first rewrite is kept
    # Emptying the fields undoes the rewrite.
    post(editor, draft, "rewrite", key=story_key(item), title="", lede="")
    assert get_edition(web_db, draft.id).edition.ticker[1].title == item.title


def test_a_renamed_story_without_a_link_keeps_its_other_edits(editor, draft, web_db):
    item = next((s for s in draft.edition.ticker if not s.url), draft.edition.ticker[2])
    key = story_key(item)
    post(editor, draft, "rewrite", key=key, title="Nouveau titre")
    post(editor, draft, "stories", action="pin", key=key)
    after = get_edition(web_db, draft.id)
    assert after.edition.ticker[0].title == "Nouveau titre"
    assert after.edits["pinned"] == [key]
    page = editor.get(f"/editions/{draft.id}").text
    assert f'name="key" value="{escape(key)}"' in page


def test_add_a_story_by_hand(editor, draft, web_db):
    page = shown(
        editor,
        post(
            editor,
            draft,
            "add",
            title="Une histoire ajoutée",
            url="https://www.example.ma/ajout",
            text="Premier paragraphe.\n\nSecond.",
            role="featured",
        ),
    )
    after = get_edition(web_db, draft.id)
    first = after.edition.featured[0]
    assert (first.title, first.url, first.source) == (
        "Une histoire ajoutée",
        "https://www.example.ma/ajout",
        "editor",
    )
    assert first.paragraphs == ("Premier paragraphe.", "Second.")
    assert 'href="https://www.example.ma/ajout"' in after.rendered.html
    assert "Une histoire ajoutée" in page
    assert "added by hand" in page  # its source on the draft page, not the word "editor"
    post(editor, draft, "add", title="Brève sans lien", url="", text="", role="ticker")
    after = get_edition(web_db, draft.id)
    assert after.edition.ticker[0].title == "Brève sans lien"
    assert after.edition.featured[0].title == "Une histoire ajoutée"  # still there
    # It can be dropped and restored like any story.
    post(editor, draft, "stories", action="drop", key="Brève sans lien")
    assert "Brève sans lien" not in get_edition(web_db, draft.id).rendered.html
    assert "Brève sans lien" in editor.get(f"/editions/{draft.id}").text  # under Dropped
    post(editor, draft, "stories", action="restore", key="Brève sans lien")
    assert get_edition(web_db, draft.id).edition.ticker[0].title == "Brève sans lien"


def test_an_added_story_needs_a_title_and_an_http_link(editor, draft, web_db):
    for url in (
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>x</script>",
        "ftp://example.com/x",
        "https://",
        "//evil.example/x",
        "https://exa mple.com/",
    ):
        page = shown(editor, post(editor, draft, "add", title="X", url=url, role="ticker"))
        assert "The link must be an http:// or https:// address." in page, url
    page = shown(editor, post(editor, draft, "add", title="  ", url="", role="ticker"))
    assert "A story needs a title." in page
    assert get_edition(web_db, draft.id).edits is None  # nothing was stored


def test_promote_and_demote(editor, draft, web_db):
    item, feature = draft.edition.ticker[0], draft.edition.featured[0]
    post(editor, draft, "role", key=story_key(item), role="featured")
    after = get_edition(web_db, draft.id)
    assert after.edition.featured[-1].title == item.title
    assert after.edition.featured[-1].role == "featured"
    assert item.title not in [s.title for s in after.edition.ticker]
    post(editor, draft, "role", key=story_key(feature), role="ticker")
    after = get_edition(web_db, draft.id)
    assert feature.title in [s.title for s in after.edition.ticker]
    assert feature.title not in [s.title for s in after.edition.featured]
    post(editor, draft, "role", key=story_key(item), role="ticker")  # and back
    assert item.title in [s.title for s in get_edition(web_db, draft.id).edition.ticker]
    assert post(editor, draft, "role", key="nope", role="featured").status_code == 400
    assert post(editor, draft, "role", key=story_key(item), role="x").status_code == 400


def test_a_hostile_note_is_neutralized_and_the_text_part_is_faithful(editor, draft, web_db):
    note = (
        "<script>alert(1)</script> **gras**\nligne deux\n\n"
        "[x](javascript:alert(1)) [lien](https://www.example.ma/n) "
        '<a href="javascript:alert(2)">raw</a>'
    )
    post(editor, draft, "texts", note=note, subject="")
    after = get_edition(web_db, draft.id)
    root = lxml.html.document_fromstring(after.rendered.html)
    cell = root.find_class("dg-note-cell")[0]
    assert {el.tag for el in cell.iter()} <= {"td", "p", "br", "strong", "a"}
    assert [a.get("href") for a in cell.iter("a")] == ["https://www.example.ma/n"]
    assert [s.text for s in cell.iter("strong")] == ["gras"] and cell.find(".//br") is not None
    assert "<script>alert(1)</script>" in cell.text_content()  # shown as typed, never run
    text = editor.get(f"/editions/{draft.id}/preview.txt").text
    assert "<script>alert(1)</script> *gras*\nligne deux\n\n" in text
    assert "[x](javascript:alert(1)) lien (https://www.example.ma/n)" in text
    assert after.edits["note"] == note  # the editor's own words are kept to edit again


def test_a_change_after_approval_withdraws_it_visibly(editor, draft, web_db):
    url = f"/editions/{draft.id}"
    page = shown(editor, editor.post(f"{url}/approve", data={"csrf": editor.csrf(url)}))
    # Approved: who and when, not the button.
    assert re.search(rf"Approved by {EDITOR}, [^<]*\d{{4}}", page)
    assert "Approve this edition" not in page
    assert "+00:00" not in page
    page = shown(
        editor,
        post(editor, draft, "stories", action="down", key=story_key(draft.edition.ticker[0])),
    )
    assert WITHDRAWN in page
    assert "Approve this edition" in page
    assert get_edition(web_db, draft.id).approved_at is None
    # A second change, with nothing approved, says only that it was saved.
    page = shown(
        editor, post(editor, draft, "rewrite", key=story_key(draft.edition.ticker[0]), title="T")
    )
    assert WITHDRAWN not in page and "Saved and rendered again." in page
    lines = audit.entries(web_db, actor=EDITOR)
    assert [e.action for e in lines[:2]] == ["edit:rewrite", "edit:down"]
    assert "withdrawn" in lines[1].detail and lines[1].target == draft.id


def test_stories_show_time_source_and_link(editor, draft):
    page = editor.get(f"/editions/{draft.id}").text
    dated = next(s for s in draft.edition.ticker if s.published_at)
    assert f'datetime="{dated.published_at.isoformat()}"' in page
    assert escape(dated.source) in page
    post(editor, draft, "add", title="Lien", url="https://www.example.ma/l?a=1&b=2", role="ticker")
    page = editor.get(f"/editions/{draft.id}").text
    assert 'href="https://www.example.ma/l?a=1&amp;b=2"' in page  # the sample has no links
    assert "+00:00</" not in page and "UTC" not in page


def test_new_actions_need_a_session_and_a_csrf_token(client, draft, web_db):
    key = story_key(draft.edition.ticker[0])
    forms = {
        "rewrite": {"key": key, "title": "pirate"},
        "add": {"title": "pirate", "url": "https://x.example/", "role": "ticker"},
        "role": {"key": key, "role": "featured"},
    }
    for what, data in forms.items():  # no session at all
        assert (
            client.post(f"/editions/{draft.id}/{what}", data={"csrf": "x", **data}).status_code
            == 403
        )
    client.login(name=PLAIN_EDITOR)
    for what, data in forms.items():  # a session, but no or a forged token
        assert client.post(f"/editions/{draft.id}/{what}", data=data).status_code == 403
        forged = {"csrf": "forged", **data}
        assert client.post(f"/editions/{draft.id}/{what}", data=forged).status_code == 403
    assert get_edition(web_db, draft.id).edits is None
    # An editor (not an admin) may edit content.
    assert post(client, draft, "rewrite", **forms["rewrite"]).status_code == 303
    assert get_edition(web_db, draft.id).edition.ticker[0].title == "pirate"
    assert audit.entries(web_db, actor=PLAIN_EDITOR)[0].action == "edit:rewrite"


def test_edits_stored_by_the_previous_code_still_load(editor, draft, web_db):
    """Before rewrites existed: pinned/dropped/order/note/subject and the sources' edition."""
    from digest.models import edition_to_dict

    last = draft.edition.ticker[-1]
    old = {
        "pinned": [story_key(last)],
        "note": "Ancienne note\nsur deux lignes",
        "subject": "Ancien sujet",
        "base": edition_to_dict(draft.edition),
    }
    with web_db.write() as conn:
        conn.execute(
            update(t.editions)
            .where(t.editions.c.id == draft.id)
            .values(edits_json=json.dumps(old, ensure_ascii=False))
        )
    page = editor.get(f"/editions/{draft.id}")
    assert page.status_code == 200 and "Ancienne note" in page.text
    post(editor, draft, "rewrite", key=story_key(draft.edition.featured[0]), title="Une revue")
    after = get_edition(web_db, draft.id)
    assert after.edition.ticker[0] == last  # the old pin still applies
    assert after.edition.subject == "Ancien sujet"
    assert after.edition.featured[0].title == "Une revue"
    assert "Ancienne note<br>sur deux lignes" in after.rendered.html


def test_editions_and_archive_show_dates_in_the_sites_zone(editor, draft, web_db):
    from datetime import UTC, datetime

    with web_db.write() as conn:
        conn.execute(
            update(t.editions)
            .where(t.editions.c.id == draft.id)
            .values(status="sent", finished_at=datetime(2026, 12, 2, 3, 35, 56, tzinfo=UTC))
        )
    listing = editor.get("/editions").text
    assert "2026-12-02 03:35" not in listing
    # Casablanca by the tzdata package (IANA 2026f, as the schedules): UTC+0 in December 2026.
    assert "Dec 2, 2026" in listing and "3:35" in listing
    archive = editor.get("/archive").text
    assert "Dec 2, 2026" in archive and "<time" in archive


def test_the_editing_forms_read_in_french_and_arabic(editor, draft):
    fr = editor.get(f"/editions/{draft.id}?lang=fr").text
    assert "Mettre à la une" in fr and "Ajouter un article" in fr and "Chapeau" in fr
    ar = editor.get(f"/editions/{draft.id}?lang=ar").text
    assert "إضافة خبر" in ar and "نقل إلى أبرز الأخبار" in ar
    response = post(editor, draft, "add", title="", url="", role="ticker")
    assert response.status_code == 303
    assert "A story needs a title." in editor.get(response.headers["location"]).text
