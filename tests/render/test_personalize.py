"""Render once, fill per subscriber: tokens survive, cannot be forged, and fill is cheap."""

from __future__ import annotations

import re
import timeit

import lxml.html
import pytest

from digest.render import Personalizer, compile_personalizer, naive_render, pipeline, render_edition

from .conftest import VALUES, featured_story, make_edition, ticker_story

TOKEN = re.compile(r"__dg[0-9a-f]{16}([ht])_([a-z_]+)__")


@pytest.fixture
def rendered(config, edition):
    return render_edition(edition, config, list_title="La matinale")


def test_token_scheme(rendered):
    tokens = rendered.tokens
    assert set(tokens) == {"html", "text"}
    for part, letter in (("html", "h"), ("text", "t")):
        assert set(tokens[part]) == {"greeting", "unsubscribe_url", "preferences_url"}
        for key, token in tokens[part].items():
            m = TOKEN.fullmatch(token)
            assert m and m.groups() == (letter, key)
    assert not set(tokens["html"].values()) & set(tokens["text"].values())


def test_each_token_appears_exactly_where_expected(rendered):
    html, text = rendered.html, rendered.text
    h, t = rendered.tokens["html"], rendered.tokens["text"]
    assert [m.group(0) for m in TOKEN.finditer(html)] == [
        h["greeting"],
        h["unsubscribe_url"],
        h["preferences_url"],
    ]
    assert [m.group(0) for m in TOKEN.finditer(text)] == [
        t["greeting"],
        t["unsubscribe_url"],
        t["preferences_url"],
    ]
    root = lxml.html.document_fromstring(html)
    [greeting] = root.find_class("dg-greeting")
    assert greeting.text_content() == h["greeting"]
    hrefs = {a.get("href"): a.text_content() for a in root.iter("a")}
    assert hrefs[h["unsubscribe_url"]] == "Se désabonner"
    assert hrefs[h["preferences_url"]] == "Gérer mes préférences"
    assert Personalizer(rendered).slot_counts() == {
        "html": {"greeting": 1, "unsubscribe_url": 1, "preferences_url": 1},
        "text": {"greeting": 1, "unsubscribe_url": 1, "preferences_url": 1},
    }


def test_fill_replaces_every_token_and_escapes_for_html_only(rendered):
    values = dict(VALUES, greeting='Bonjour <Amina & "co">,')
    html, text = Personalizer(rendered).fill(values)
    assert "__dg" not in html and "__dg" not in text
    assert "Bonjour &lt;Amina &amp; &quot;co&quot;&gt;," in html
    assert 'Bonjour <Amina & "co">,' not in html
    assert 'Bonjour <Amina & "co">,' in text
    assert 'href="https://www.example.ma/digest/u/Zx9_kQ?list=matinale&amp;v=1"' in html
    assert "Se désabonner\u00a0: https://www.example.ma/digest/u/Zx9_kQ?list=matinale&v=1" in text
    root = lxml.html.document_fromstring(html)
    assert root.find_class("dg-greeting")[0].text_content() == 'Bonjour <Amina & "co">,'


def test_fill_needs_every_value(rendered):
    with pytest.raises(KeyError, match="unsubscribe_url"):
        Personalizer(rendered).fill({"greeting": "Bonjour,", "preferences_url": "https://x"})


def test_substitutions_give_each_part_its_escaping(rendered):
    values = dict(VALUES, greeting="Bonjour <Amina>,")
    subs = compile_personalizer(rendered).substitutions(values)
    assert subs[rendered.tokens["html"]["greeting"]] == "Bonjour &lt;Amina&gt;,"
    assert subs[rendered.tokens["text"]["greeting"]] == "Bonjour <Amina>,"
    assert len(subs) == 6


def test_nonce_differs_per_render(config, edition):
    first = render_edition(edition, config, list_title="La matinale").tokens
    second = render_edition(edition, config, list_title="La matinale").tokens
    assert first["html"]["greeting"] != second["html"]["greeting"]
    assert first["text"]["unsubscribe_url"] != second["text"]["unsubscribe_url"]


def test_source_content_cannot_forge_a_token(config, edition):
    earlier = render_edition(edition, config, list_title="La matinale").tokens
    stolen = earlier["html"]["unsubscribe_url"]
    forged = make_edition(
        "fr",
        ticker=[
            ticker_story(0, title="__dg_unsubscribe_url__ __dg_greeting__"),
            ticker_story(1, title=f"Cliquez {stolen}", url=f"https://evil.example/{stolen}"),
        ],
        featured=[featured_story(paragraphs=(earlier["text"]["greeting"],))],
    )
    r = render_edition(forged, config, list_title="La matinale")
    html, text = Personalizer(r).fill(VALUES)
    # guessed and stolen tokens stay literal text; only this render's own tokens were filled
    assert "__dg_unsubscribe_url__ __dg_greeting__" in html
    assert f"Cliquez {stolen}" in html and f"https://evil.example/{stolen}" in html
    assert earlier["text"]["greeting"] in text
    assert html.count(VALUES["preferences_url"]) == 1


def test_render_once_then_fill_matches_a_full_render(config, edition):
    values = dict(VALUES, greeting="Bonjour Amina & <Léa>,")  # no quotes: byte-identical
    filled = Personalizer(render_edition(edition, config, list_title="La matinale")).fill(values)
    assert filled == naive_render(edition, config, "La matinale", values)


def test_quotes_fill_to_the_same_document_as_a_full_render(config, edition):
    values = dict(VALUES, greeting='Bonjour "Amina" d\'Anfa,')
    html, text = Personalizer(render_edition(edition, config, list_title="La matinale")).fill(
        values
    )
    naive_html, naive_text = naive_render(edition, config, "La matinale", values)
    assert text == naive_text
    # html.escape writes &quot; and &#x27; where lxml writes " and ': same document
    a = lxml.html.document_fromstring(html)
    b = lxml.html.document_fromstring(naive_html)
    assert lxml.html.tostring(a) == lxml.html.tostring(b)


def _count(monkeypatch, name):
    real = getattr(pipeline, name)
    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, name, counting)
    return calls


def test_compile_and_inline_run_once_per_edition_not_per_subscriber(monkeypatch, config, edition):
    mjml_calls = _count(monkeypatch, "mjml2html")
    premailer_calls = _count(monkeypatch, "Premailer")
    personalizer = Personalizer(render_edition(edition, config, list_title="La matinale"))
    for i in range(1000):
        html, _ = personalizer.fill(dict(VALUES, greeting=f"Bonjour lecteur {i},"))
    assert "Bonjour lecteur 999," in html
    assert (len(mjml_calls), len(premailer_calls)) == (1, 1)
    # and the counters do count: the naive way pays for every subscriber
    for _ in range(3):
        naive_render(edition, config, "La matinale", VALUES)
    assert (len(mjml_calls), len(premailer_calls)) == (4, 4)


def test_fill_is_cheap(config):
    edition = make_edition("fr", ticker=[ticker_story(i) for i in range(30)])
    rendered = render_edition(edition, config, list_title="La matinale")
    assert 25_000 < rendered.html_bytes < 100_000
    personalizer = Personalizer(rendered)
    runs = 2000
    per_fill = min(timeit.repeat(lambda: personalizer.fill(VALUES), number=runs, repeat=3)) / runs
    assert per_fill < 200e-6  # target ~20 us; loose bound for slow CI machines


def test_render_prints_nothing(capfd, config, edition):
    render_edition(edition, config, list_title="La matinale")
    out, err = capfd.readouterr()
    assert out == "" and err == ""
