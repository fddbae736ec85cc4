"""[lists.NAME]: a list's own sources, locale, subject/preheader per locale, templates, sender
and theme; what it does not set comes from the site; every error names the list and the key."""

import pytest

from digest.config import load_config
from digest.config.lists import variant_config
from digest.edition.variants import offered_locales, variant_locales
from digest.errors import ConfigError
from digest.locale import match_locale
from tests.config.test_config import GOOD, write

SITE = (
    GOOD
    + """
[[sources]]
name = "akhbar"
kind = "rss"
path = "akhbar.xml"

[edition]
subject = { fr = "La matinale du {date}", ar = "صباح {date}" }
preheader = "{top}"
"""
)

LIST = """
[lists.matinale]
title = "La matinale"

[lists.sabah]
title = "الصباحية"
locale = "ar"
sources = ["akhbar", { name = "extra", kind = "rss", url = "https://example.com/ar.xml" }]
subject = { ar = "صباحية {date}: {top}", en = "Sabah, {date}" }
templates_dir = "ar-templates"

[lists.sabah.sender]
email = "sabah@example.com"
name = "الصباحية"

[lists.sabah.theme]
primary_color = "#006233"

[lists.sabah.variants.fr]
sources = ["home"]
title = "Le Sabah"
"""


def load(tmp_path, text):
    return load_config(write(tmp_path, text), env={})


def test_a_list_sets_its_own_and_takes_the_rest_from_the_site(tmp_path):
    config = load(tmp_path, SITE + LIST)
    plain = variant_config(config, "matinale")
    assert plain.site.locale == "fr" and plain.edition.subject == "La matinale du {date}"
    assert [s.name for s in plain.sources] == ["home", "akhbar"]
    assert plain.sender == config.sender and plain.theme == config.theme
    assert variant_config(config, "matinale", "ar").edition.subject == "صباح {date}"
    # A locale with no subject of its own: the site's default one (its locale's).
    assert variant_config(config, "matinale", "en").edition.subject == "La matinale du {date}"

    sabah = variant_config(config, "sabah")
    assert sabah.site.locale == "ar" and sabah.edition.subject == "صباحية {date}: {top}"
    assert [s.name for s in sabah.sources] == ["akhbar", "extra"]
    assert sabah.sources[1].location == "https://example.com/ar.xml"
    assert sabah.sender.email == "sabah@example.com" and sabah.sender.name == "الصباحية"
    assert sabah.theme.primary_color == "#006233"
    assert sabah.theme.font_family == config.theme.font_family  # not set: the site's
    assert sabah.templates_dir == tmp_path / "ar-templates"
    assert sabah.edition.preheader == "{top}"  # not set by the list: the site's
    assert sabah.list_config("sabah").title == "الصباحية"
    fr = variant_config(config, "sabah", "fr_MA")  # the fr variant, by language
    assert [s.name for s in fr.sources] == ["home"] and fr.list_config("sabah").title == "Le Sabah"
    assert variant_config(config, "sabah", "en").edition.subject == "Sabah, {date}"
    assert config.site.locale == "fr" and config.sources[0].name == "home"  # unchanged


def test_variants_are_the_default_then_the_offered_locales_readers_match(tmp_path):
    config = load(tmp_path, SITE + LIST + '\n[lists.only]\nlocales = ["fr_MA", "en"]\n')
    assert offered_locales(config, "matinale")[0] == "fr"
    assert variant_locales(config, "matinale", ["ar", "fr", None, "ar_MA", "de"]) == ("fr", "ar")
    assert variant_locales(config, "sabah", ["fr_MA", "en"]) == ("ar", "en", "fr")
    assert offered_locales(config, "only") == ("fr", "fr_MA", "en")
    assert variant_locales(config, "only", ["ar", "fr_MA"]) == ("fr", "fr_MA")


def test_match_locale_exact_then_language_then_default():
    offered = ("fr", "ar", "en_GB")
    assert match_locale("ar", offered, "fr") == "ar"
    assert match_locale("ar-MA", offered, "fr") == "ar"
    assert match_locale("en_US", offered, "fr") == "en_GB"
    assert match_locale("de", offered, "fr") == "fr"
    assert match_locale(None, offered, "fr") == "fr"
    assert match_locale("fr", ("fr_MA", "fr_FR"), "fr_MA") == "fr_MA"


@pytest.mark.parametrize(
    ("extra", "key", "message"),
    [
        ('[lists.a]\nlocale = "xx_YY_ZZ"\n', "lists.a.locale", "unknown locale"),
        ('[lists.a]\nsources = ["nope"]\n', "lists.a.sources", "names no [[sources]] entry"),
        ("[lists.a]\nsources = []\n", "lists.a.sources", "at least one source"),
        (
            '[lists.a]\nsources = [{ name = "x", kind = "rss" }]\n',
            "lists.a.sources.x",
            "exactly one of 'url' or 'path'",
        ),
        ('[lists.a]\nsubject = "{nope}"\n', "lists.a.subject", "bad placeholder"),
        ('[lists.a]\nsubject = { zz9 = "{top}" }\n', "lists.a.subject.zz9", "unknown locale"),
        ("[lists.a]\npreheader = { ar = 3 }\n", "lists.a.preheader.ar", "must be a string"),
        ("[lists.a]\nsubject = 3\n", "lists.a.subject", "must be str or dict"),
        ('[lists.a.sender]\nemail = "not an address"\n', "lists.a.sender.email", "plain email"),
        ("[lists.a.theme]\nprimary_color = 3\n", "lists.a.theme.primary_color", "must be str"),
        ('[lists.a.variants.ar]\nsources = ["nope"]\n', "lists.a.variants.ar.sources", "names no"),
        ('[lists.a.variants.qq9]\ntitle = "x"\n', "lists.a.variants.qq9", "unknown locale"),
        ('[lists.a]\nlocales = ["fr", 3]\n', "lists.a.locales", "must be a list of locales"),
        (
            '[lists.a]\nlocales = ["fr"]\n[lists.a.variants.ar]\ntitle = "x"\n',
            "lists.a.variants.ar",
            "does not offer",
        ),
        ('[edition]\nsubject = { ar = "{oops}" }\n', "edition.subject.ar", "bad placeholder"),
    ],
)
def test_errors_name_the_list_and_the_key(tmp_path, extra, key, message):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, GOOD + extra)
    assert info.value.key == key
    assert message in str(info.value)


def test_an_unknown_key_in_a_list_is_reported_with_the_list(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key\(s\) in \[lists.a\]: colour"):
        load(tmp_path, GOOD + '[lists.a]\ncolour = "red"\n')
    with pytest.raises(ConfigError, match=r"unknown key\(s\) in \[lists.a.sender\]: mail"):
        load(tmp_path, GOOD + '[lists.a.sender]\nmail = "x@example.com"\n')


def test_the_readme_example_is_a_valid_config(tmp_path):
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("### Lists, locales and variants", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    config = load(tmp_path, example)
    ar = variant_config(config, "matinale", "ar")
    assert [s.name for s in ar.sources] == ["akhbar"] and ar.edition.subject.startswith("الصباحية")
    assert ar.list_config("matinale").title == "الصباحية"
    assert [s.name for s in variant_config(config, "matinale", "en").sources] == ["homepage"]
    sabah = variant_config(config, "sabah")
    assert sabah.site.locale == "ar" and sabah.sender.email == "sabah@example.ma"
    assert variant_config(config, "sabah", "fr").edition.subject == "Sabah : {top}"
    assert variant_locales(config, "sabah", ["fr", "en"]) == ("ar", "en", "fr")
