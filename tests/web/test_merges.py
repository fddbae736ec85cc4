"""The draft page lists the edition's near-duplicate merges; an editor keeps both stories apart
(and can merge them again), through the same edits as pin/drop/move: stored, rendered again."""

from __future__ import annotations

import pytest

from digest.store.editions import get_edition

FEATURED = "Le Maroc et la France renforcent leur coopération sécuritaire"  # the sample's
DUPLICATE = "Le Maroc et la France renforcent leur coopération"
LINK = "https://www.example.ma/politique/maroc-france-cooperation"
RSS = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Dernières infos</title><link>https://www.example.ma</link>
<description>x</description>
<item><title>{DUPLICATE}</title><link>{LINK}</link>
<pubDate>Tue, 01 Jul 2025 06:10:00 +0100</pubDate></item>
</channel></rss>
"""


@pytest.fixture
def site(site, tmp_path):
    """The sample site with a second source: a feed carrying the featured story's headline."""
    feed = tmp_path / "dernieres.xml"
    feed.write_text(RSS, encoding="utf-8")
    with open(site, "a", encoding="utf-8") as fh:
        fh.write(
            f'\n[[sources]]\nname = "dernieres"\nkind = "rss"\nrole = "ticker"\npath = "{feed}"\n'
        )
    return site


def post(editor, draft, action, key):
    url = f"/editions/{draft.id}"
    return editor.post(
        f"{url}/stories", data={"csrf": editor.csrf(url), "action": action, "key": key}
    )


def test_keep_both_then_merge_again(editor, draft, web_db):
    [merge] = draft.edition.merged
    assert (merge["kept"], merge["dropped"]) == (FEATURED, DUPLICATE)
    assert draft.edition.featured[0].url == LINK  # the homepage's story took the feed's link
    assert DUPLICATE not in [s.title for s in draft.edition.ticker]

    page = editor.get(f"/editions/{draft.id}")
    assert 'id="merges"' in page.text and "merged into" in page.text
    assert 'value="unmerge"' in page.text and f'value="{DUPLICATE}"' in page.text

    assert post(editor, draft, "unmerge", DUPLICATE).status_code == 303
    apart = get_edition(web_db, draft.id)
    assert apart.edits["unmerged"] == [DUPLICATE]  # recorded with the other edits
    assert apart.edition.merged == ()
    assert apart.edition.featured[0].title == FEATURED
    assert apart.edition.featured[0].url is None  # the text dump gave it no link
    [back] = [s for s in apart.edition.ticker if s.title == DUPLICATE]
    assert back.url == LINK and back.source == "dernieres"
    # rendered again: the feed's headline is now a linked line of the ticker
    assert DUPLICATE + "</a>" in apart.rendered.html and f'href="{LINK}"' in apart.rendered.html
    page = editor.get(f"/editions/{draft.id}")
    assert "kept apart from" in page.text and 'value="merge"' in page.text

    assert post(editor, draft, "merge", DUPLICATE).status_code == 303
    again = get_edition(web_db, draft.id)
    assert again.edition == draft.edition and "unmerged" not in (again.edits or {})


def test_only_a_merge_of_this_edition_can_be_undone(editor, draft, web_db):
    response = post(editor, draft, "unmerge", "Un titre qui n'a jamais été fusionné")
    assert response.status_code == 400
    assert get_edition(web_db, draft.id).edits is None
