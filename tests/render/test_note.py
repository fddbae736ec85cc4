"""The editor's note: paragraphs, line breaks, **bold** and [links](https://...), sanitized, in
the HTML part; the same in faithful plain text in the text part. Hostile notes stay text."""

from __future__ import annotations

import lxml.html

from digest.render import render_edition
from digest.render.note import render_note

from .conftest import make_edition

NOTE = (
    "Bonjour à tous,\nune ligne à part.\n\n"
    "Lisez **notre enquête** et [le dossier](https://www.example.ma/dossier).\n\n"
    "À demain."
)


def note_cell(html: str):
    root = lxml.html.document_fromstring(html)
    return root.find_class("dg-note-cell")[0]


def test_paragraphs_breaks_bold_and_links_in_both_parts(config):
    r = render_edition(make_edition("fr", note=NOTE), config, list_title="La matinale")
    cell = note_cell(r.html)
    paras = [p for p in cell.iter("p") if "dg-p" in (p.get("class") or "")]
    assert len(paras) == 3
    assert len(paras[0].findall("br")) == 1  # the line break is kept, not collapsed
    assert paras[1].find("strong").text == "notre enquête"
    assert paras[1].find("a").get("href") == "https://www.example.ma/dossier"
    assert paras[1].find("a").text == "le dossier"
    text = r.text
    assert "Bonjour à tous,\nune ligne à part.\n\n" in text
    assert "Lisez *notre enquête* et le dossier (https://www.example.ma/dossier)." in text
    assert "**" not in text and "](" not in text
    assert "\n\nÀ demain." in text


HOSTILE = (
    "<script>alert(1)</script> <b onclick=x>gras</b> <img src=x onerror=alert(1)>\n\n"
    '[x](javascript:alert(1)) [y](data:text/html,hi) <a href="javascript:alert(2)">z</a>\n\n'
    '**<i>a</i>** [t](https://ok.example/"onmouseover="alert(3)) <!-- c -->'
)


def test_hostile_note_is_neutralized(config):
    r = render_edition(make_edition("fr", note=HOSTILE), config, list_title="La matinale")
    cell = note_cell(r.html)
    tags = {el.tag for el in cell.iter()} - {"td", "p", "br", "strong", "a"}
    assert tags == set()  # no script, b, img, i, a comment...
    hrefs = [a.get("href") for a in cell.iter("a")]
    assert all(h.startswith(("https://", "http://")) for h in hrefs)
    assert all(not a.get("onmouseover") and set(a.attrib) <= {"href"} for a in cell.iter("a"))
    assert "javascript:" not in "".join(hrefs)
    for el in cell.iter():
        assert not any(k.startswith("on") for k in el.attrib)
    # Typed HTML is shown as the text it is, never run.
    assert "<script>alert(1)</script>" in cell.text_content()
    assert "[x](javascript:alert(1))" in cell.text_content()
    assert "<script>" not in r.html.split("dg-note-cell", 1)[1].split("</td>", 1)[0]
    # The text part: the same words, plainly.
    assert "<script>alert(1)</script>" in r.text and "[x](javascript:alert(1))" in r.text


def test_render_note_alone():
    note = render_note("a **b**\nc [d](http://e.example/f)\n\n\n\ng")
    assert [str(p) for p in note.html] == [
        'a <strong>b</strong><br>c <a href="http://e.example/f">d</a>',
        "g",
    ]
    assert note.text == ("a *b*\nc d (http://e.example/f)", "g")
    assert render_note("").html == () and render_note(None).text == ()
    same = render_note("[https://x.example/](https://x.example/)")
    assert same.text == ("https://x.example/",)
