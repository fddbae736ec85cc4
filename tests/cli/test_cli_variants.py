"""The commands with a list whose readers use several locales: build writes each variant,
send delivers each reader theirs, status and editions show the variants."""

import json
from email import message_from_bytes
from email.policy import default

from tests.cli.test_cli import digest
from tests.conftest import ROOT, SAMPLE_NOW

READERS = (
    "email,name,locale\n"
    "amina@example.ma,Amina,fr\n"
    "fatima@example.ma,فاطمة,ar\n"
    "layla@example.ma,Layla,ar_MA\n"
    "john@example.com,John,en\n"
)
VARIANT = (
    '[lists.matinale.variants.ar]\ntitle = "الصباحية"\n'
    f'sources = [{{ name = "akhbar", kind = "rss", path = "{ROOT / "samples" / "feed-ar.xml"}" }}]\n'
)


def test_build_send_status_and_editions_with_three_variants(site, tmp_path):
    site.write_text(site.read_text("utf-8") + "\n" + VARIANT, "utf-8")
    (tmp_path / "readers.csv").write_text(READERS, "utf-8")
    digest("subscribers", "import", "readers.csv", "--list", "matinale", cwd=tmp_path)

    built = digest("build", "--now", SAMPLE_NOW, "--out", "ed", cwd=tmp_path)
    assert "variant ar (rtl)" in built.stdout and "variant en (ltr)" in built.stdout
    data = json.loads((tmp_path / "ed" / "edition.json").read_text("utf-8"))
    assert data["locale"] == "fr" and [v["locale"] for v in data["variants"]] == ["ar", "en"]
    ar = data["variants"][0]
    assert ar["direction"] == "rtl" and ar["id"] == data["id"]
    assert {s["source"] for s in ar["ticker"]} == {"akhbar"}
    assert ar["ticker"][0]["published_at"].endswith("+01:00")
    html_ar = (tmp_path / "ed" / "edition.ar.html").read_text("utf-8")
    assert '<html lang="ar" dir="rtl"' in html_ar and "الصباحية" in html_ar
    assert '<html lang="en" dir="ltr"' in (tmp_path / "ed" / "edition.en.html").read_text("utf-8")
    assert "Voir en ligne" in (tmp_path / "ed" / "edition.txt").read_text("utf-8")

    digest("send", "--list", "matinale", "--now", SAMPLE_NOW, "--out", "outbox", cwd=tmp_path)
    langs = {}
    for path in (tmp_path / "outbox").glob("*.eml"):
        msg = message_from_bytes(path.read_bytes(), policy=default)
        html = msg.get_body(("html",)).get_content()
        langs[msg["To"].addresses[0].addr_spec] = html.split('<html lang="', 1)[1][:2]
    assert langs == {
        "amina@example.ma": "fr",
        "fatima@example.ma": "ar",
        "layla@example.ma": "ar",
        "john@example.com": "en",
    }

    status = digest("status", "matinale-2025-07-01", cwd=tmp_path).stdout
    assert "variants: 3" in status
    lines = {line.split()[0]: line for line in status.splitlines() if line.startswith("    ")}
    assert "2 readers" in lines["ar"] and "rtl" in lines["ar"] and "الصباحية" not in lines["fr"]
    assert "1 reader " in lines["fr"] and "1 reader " in lines["en"]
    history = digest("editions", cwd=tmp_path).stdout
    assert "variants fr,ar,en" in history
