import codecs
from datetime import datetime, time

import pytest

from digest.config import DEFAULT_BOILERPLATE
from digest.sources.dating import BackwardsDater, parse_clock
from digest.sources.text import parse_text

from .conftest import CASABLANCA, FIXTURES, PARIS, REFERENCE, ROOT

SAMPLE = ROOT / "samples" / "homepage-fr.txt"


def parse(body: bytes, reference=REFERENCE, tz=CASABLANCA, **kw):
    kw.setdefault("boilerplate", DEFAULT_BOILERPLATE)
    return parse_text(body, name="home", reference_time=reference, tz=tz, **kw)


def iso(result, role="ticker"):
    return [s.published_at.isoformat() for s in result.stories if s.role == role]


def test_sample_homepage_gives_nine_ticker_stories_dated_backwards():
    result = parse(SAMPLE.read_bytes())
    assert result.ok and result.warnings == ()
    assert iso(result) == [
        "2025-07-01T07:34:00+01:00",
        "2025-07-01T07:30:00+01:00",
        "2025-07-01T07:14:00+01:00",
        "2025-07-01T07:06:00+01:00",
        "2025-07-01T06:55:00+01:00",
        "2025-06-30T19:00:00+01:00",
        "2025-06-30T18:32:00+01:00",
        "2025-06-30T18:00:00+01:00",
        "2025-06-30T17:30:00+01:00",
    ]
    ticker = [s for s in result.stories if s.role == "ticker"]
    assert ticker[0].title == (
        "L’économie marocaine maintient son élan avec une croissance prévue de 4,4 % en 2025"
    )
    assert ticker[-1].title == (
        "Achraf Hakimi et Yassine Bounou dans le onze type du Mondial des clubs"
    )
    assert all(s.url is None and s.source == "home" and s.paragraphs == () for s in ticker)


def test_sample_homepage_featured_story():
    result = parse(SAMPLE.read_bytes())
    featured = [s for s in result.stories if s.role == "featured"]
    assert len(featured) == 1
    story = featured[0]
    assert story.title == "Le Maroc et la France renforcent leur coopération sécuritaire"
    assert len(story.paragraphs) == 6
    assert story.paragraphs[0].startswith("Un nouveau jalon vient d’être posé")
    assert story.paragraphs[-1].endswith("face aux enjeux sécuritaires contemporains.")
    assert story.url is None
    assert story.published_at == REFERENCE and story.published_at.tzinfo is not None


def test_boilerplate_never_survives():
    result = parse(SAMPLE.read_bytes())
    texts = [s.title for s in result.stories] + [p for s in result.stories for p in s.paragraphs]
    assert not any("Suivez-nous" in t for t in texts)
    # and without the boilerplate setting the line would have been the featured title
    raw = parse(SAMPLE.read_bytes(), boilerplate=())
    assert [s.title for s in raw.stories if s.role == "featured"] == ["Suivez-nous sur Facebook"]


def test_crlf_bom_nbsp_and_trailing_spaces_change_nothing():
    clean = parse(SAMPLE.read_bytes())
    text = SAMPLE.read_text(encoding="utf-8")
    messy = text.replace(" ", "\u00a0", 3).replace("\n", "  \t\r\n")
    result = parse(codecs.BOM_UTF8 + messy.encode("utf-8"))
    assert result.stories == clean.stories
    assert result.warnings == ()


def test_space_between_time_and_title_and_other_dashes_tolerated():
    body = "- 07:34 Avec espace\n– 7:20Tiret demi-cadratin\n-07h05Sans espace après le tiret\n"
    result = parse(body.encode())
    assert [(s.title, s.published_at.strftime("%H:%M")) for s in result.stories] == [
        ("Avec espace", "07:34"),
        ("Tiret demi-cadratin", "07:20"),
        ("Sans espace après le tiret", "07:05"),
    ]


def test_minutes_are_two_digits_so_a_title_may_start_with_a_digit():
    result = parse(b"- 07:302 morts dans un accident\n")
    assert result.stories[0].title == "2 morts dans un accident"
    assert result.stories[0].published_at.strftime("%H:%M") == "07:30"


def test_several_midnights_duplicates_literal_markup_and_emoji():
    ref = datetime.fromisoformat("2025-07-03T06:00:00+01:00")
    result = parse((FIXTURES / "text" / "midnights.txt").read_bytes(), reference=ref)
    assert iso(result) == [
        "2025-07-03T05:50:00+01:00",
        "2025-07-03T01:10:00+01:00",
        "2025-07-02T23:40:00+01:00",  # first midnight
        "2025-07-02T12:00:00+01:00",  # (its exact repeat is dropped)
        "2025-07-02T08:15:00+01:00",
        "2025-07-01T22:00:00+01:00",  # second midnight
        "2025-07-01T21:59:00+01:00",
        "2025-06-30T23:59:00+01:00",  # third midnight
        "2025-06-30T00:01:00+01:00",
    ]
    titles = [s.title for s in result.stories]
    assert titles[0] == "Séisme ressenti à Al Hoceima 🌍"
    assert titles[1] == 'La <b>Bourse</b> & les marchés : "prudence"'  # text, not markup
    assert titles.count("Conseil de gouvernement") == 1
    assert result.warnings == ("dropped 1 repeated ticker line(s)",)


def test_first_time_after_the_reference_belongs_to_the_day_before():
    ref = datetime.fromisoformat("2025-07-01T06:00:00+01:00")
    result = parse(b"- 06:00Exactly now\n- 07:00Yesterday morning\n", reference=ref)
    assert iso(result) == ["2025-07-01T06:00:00+01:00", "2025-06-30T07:00:00+01:00"]
    later = parse(b"- 07:00Yesterday morning\n", reference=ref)
    assert iso(later) == ["2025-06-30T07:00:00+01:00"]


def test_reference_in_another_zone_is_read_in_the_site_zone():
    ref = datetime.fromisoformat("2025-07-01T06:30:00+00:00")  # 07:30 in Casablanca
    result = parse(b"- 07:20A\n- 07:40B\n", reference=ref)
    assert iso(result) == ["2025-07-01T07:20:00+01:00", "2025-06-30T07:40:00+01:00"]


def test_arabic_dump_with_arabic_indic_digits_and_direction_marks():
    result = parse((FIXTURES / "homepage-ar.txt").read_bytes())
    assert result.ok and result.warnings == ()
    assert iso(result) == [
        "2025-07-01T07:40:00+01:00",
        "2025-07-01T07:15:00+01:00",
        "2025-07-01T06:50:00+01:00",
        "2025-06-30T23:10:00+01:00",
        "2025-06-30T22:05:00+01:00",
    ]
    ticker = [s for s in result.stories if s.role == "ticker"]
    assert ticker[0].title == "الحكومة تصادق على مشروع قانون المالية 🇲🇦"
    assert ticker[1].title == "ارتفاع درجات الحرارة في عدة مدن مغربية"
    assert ticker[2].title == "المنتخب الوطني يستعد لمباراة ودية ⚽"
    featured = [s for s in result.stories if s.role == "featured"]
    assert [s.title for s in featured] == ["المغرب وإسبانيا يعززان التعاون في مجال الطاقة"]
    assert len(featured[0].paragraphs) == 2
    assert featured[0].paragraphs[1].endswith("🌱.")
    assert not any("تابعونا" in s.title for s in result.stories)


def test_several_featured_stories_split_on_blank_line_and_title_like_block():
    result = parse((FIXTURES / "text" / "several-featured.txt").read_bytes())
    featured = [s for s in result.stories if s.role == "featured"]
    assert [s.title for s in featured] == [
        "Premier titre à la une",
        "Deuxième titre à la une : la suite ?",
    ]
    assert featured[0].paragraphs == (
        "Paragraphe un.",
        "Paragraphe deux.",
        "Suite du premier article, après une ligne vide.",
        "Une phrase qui se termine par un point.",
        "Et qui continue le premier article.",
    )
    # boilerplate in the middle of a story, in capitals, is still dropped
    assert featured[1].paragraphs == ("Son premier paragraphe.", "Son second paragraphe.")


def test_featured_only_and_ticker_only_dumps():
    only_featured = parse(b"Un titre\nUn paragraphe.\n")
    assert [(s.role, s.title, s.paragraphs) for s in only_featured.stories] == [
        ("featured", "Un titre", ("Un paragraphe.",))
    ]
    only_ticker = parse(b"- 07:00A\n- 06:00B\n")
    assert [s.role for s in only_ticker.stories] == ["ticker", "ticker"]


def test_impossible_times_and_empty_titles_are_skipped_with_a_warning():
    result = parse(b"- 07:00Good\n- 25:61Impossible\n- 06:00\n- 05:00Also good\n")
    assert [s.title for s in result.stories] == ["Good", "Also good"]
    assert result.warnings == ("skipped 2 ticker line(s) with an impossible time or no title",)


def test_empty_file_and_boilerplate_only_are_errors():
    empty = parse((FIXTURES / "text" / "empty.txt").read_bytes())
    assert not empty.ok and empty.stories == ()
    assert "no ticker line and no featured story" in empty.error
    boiler = parse((FIXTURES / "text" / "boilerplate-only.txt").read_bytes())
    assert not boiler.ok and boiler.stories == ()
    assert "only boilerplate" in boiler.error and "'home'" in boiler.error


def test_declared_charset_used_when_bytes_are_not_utf8():
    body = "- 07:00Café crème\nÉté brûlant\nIl fait chaud.\n".encode("cp1252")
    result = parse(body, content_type="text/plain; charset=windows-1252")
    assert [s.title for s in result.stories] == ["Café crème", "Été brûlant"]
    assert result.warnings == ()
    guessed = parse(body)
    assert "undecodable" in guessed.warnings[0]
    assert guessed.stories[0].title == "Caf\ufffd cr\ufffdme"


# --- the shared dating rule, around daylight-saving transitions -----------------------------


def dates(reference, tz, *clocks):
    dater = BackwardsDater(datetime.fromisoformat(reference), tz)
    return [dater.date(time.fromisoformat(c)).isoformat() for c in clocks]


def test_fold_takes_the_later_occurrence_first_then_the_earlier():
    # Paris, 2025-10-26: 03:00 CEST becomes 02:00 CET, so 02:00-02:59 happens twice.
    clocks = ("02:45", "02:15", "02:50", "02:10", "01:59")
    assert dates("2025-10-26T03:30:00+01:00", PARIS, *clocks) == [
        "2025-10-26T02:45:00+01:00",
        "2025-10-26T02:15:00+01:00",
        "2025-10-26T02:50:00+02:00",
        "2025-10-26T02:10:00+02:00",
        "2025-10-26T01:59:00+02:00",
    ]


def test_gap_time_is_dated_at_the_jump_and_keeps_the_order():
    # Paris, 2025-03-30: 02:00 CET jumps to 03:00 CEST; 02:30 never happens.
    assert dates("2025-03-30T04:00:00+02:00", PARIS, "03:10", "02:30", "01:50", "02:30") == [
        "2025-03-30T03:10:00+02:00",
        "2025-03-30T03:00:00+02:00",
        "2025-03-30T01:50:00+01:00",
        "2025-03-29T02:30:00+01:00",
    ]


def test_casablanca_ramadan_transitions():
    # 2025-02-23 03:00 (+01) -> 02:00 (+00): a fold; 2025-04-06 02:00 (+00) -> 03:00 (+01): a gap.
    assert dates("2025-02-23T04:00:00+00:00", CASABLANCA, "02:40", "02:20", "02:30") == [
        "2025-02-23T02:40:00+00:00",
        "2025-02-23T02:20:00+00:00",
        "2025-02-23T02:30:00+01:00",
    ]
    assert dates("2025-04-06T03:30:00+01:00", CASABLANCA, "02:15", "01:45") == [
        "2025-04-06T03:00:00+01:00",
        "2025-04-06T01:45:00+00:00",
    ]


def test_anchor_moves_the_chain_but_never_into_the_future():
    dater = BackwardsDater(REFERENCE, CASABLANCA)
    dater.anchor(datetime.fromisoformat("2025-06-30T20:00:00+01:00"))
    assert dater.date(time(21, 0)).isoformat() == "2025-06-29T21:00:00+01:00"
    dater = BackwardsDater(REFERENCE, CASABLANCA)
    dater.anchor(datetime.fromisoformat("2025-07-02T20:00:00+01:00"))  # ignored
    assert dater.date(time(7, 0)).isoformat() == "2025-07-01T07:00:00+01:00"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("07:34", time(7, 34)),
        ("7h05", time(7, 5)),
        ("Mis à jour à 18.30", time(18, 30)),
        ("٠٧:١٥", time(7, 15)),
        ("24:00", None),
        ("il y a 5 min", None),
        ("2025", None),
    ],
)
def test_parse_clock(text, expected):
    assert parse_clock(text) == expected


def test_an_unknown_line_between_headlines_is_dropped_with_a_warning():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from digest.sources.text import parse_text

    tz = ZoneInfo("Africa/Casablanca")
    body = (
        "- 07:40Premier titre\nRejoignez-nous sur Mastodon\n- 06:50Deuxième titre\n"
        "Titre à la une\nUn paragraphe.\n"
    ).encode()
    result = parse_text(
        body,
        name="home",
        reference_time=datetime(2025, 7, 1, 8, tzinfo=tz),
        tz=tz,
        boilerplate=("Suivez-nous",),
    )
    assert [s.title for s in result.stories if s.role == "ticker"] == [
        "Premier titre",
        "Deuxième titre",
    ]
    [featured] = [s for s in result.stories if s.role == "featured"]
    assert (featured.title, featured.paragraphs) == ("Titre à la une", ("Un paragraphe.",))
    assert any("Rejoignez-nous sur Mastodon" in w for w in result.warnings)
