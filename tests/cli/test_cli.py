"""The commands as a newcomer runs them, in a real process where the exit code matters."""

import json
import subprocess
import sys
from email import message_from_bytes
from email.policy import default

from tests.conftest import EXAMPLE_CSV, SAMPLE, SAMPLE_NOW


def digest(*args, cwd, env_extra=None, check=True):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "SENDGRID_"))}
    env.update(env_extra or {})
    proc = subprocess.run(
        [sys.executable, "-m", "digest", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_build_the_sample_page(site, tmp_path):
    out = tmp_path / "ed"
    proc = digest(
        "build", "--source", str(SAMPLE), "--now", SAMPLE_NOW, "--out", str(out), cwd=tmp_path
    )
    assert "9 headlines, 1 featured" in proc.stdout
    data = json.loads((out / "edition.json").read_text(encoding="utf-8"))
    assert [s["published_at"] for s in data["ticker"]] == [
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
    assert data["ticker"][0]["title"].startswith("L’économie marocaine maintient son élan")
    [featured] = data["featured"]
    assert featured["title"] == "Le Maroc et la France renforcent leur coopération sécuritaire"
    assert len(featured["paragraphs"]) == 6
    for key in ("id", "subject", "preheader", "locale", "timezone"):
        assert data[key]
    assert data["id"] == "matinale-2025-07-01" and data["timezone"] == "Africa/Casablanca"
    for name in ("edition.json", "edition.html", "edition.txt"):
        body = (out / name).read_text(encoding="utf-8")
        assert "Suivez-nous" not in body
        assert "__dg" not in body  # no placeholder token left in the preview files
    html = (out / "edition.html").read_text(encoding="utf-8")
    assert '<html lang="fr" dir="ltr"' in html
    assert "12 boulevard d'Anfa, 20000 Casablanca, Maroc" in html


def test_config_mistakes_are_one_sentence_and_exit_2(tmp_path, site):
    broken = tmp_path / "broken.toml"
    broken.write_text(
        site.read_text().replace('timezone = "Africa/Casablanca"', 'timezone = "Africa/Atlantis"')
    )
    proc = digest("build", "--config", str(broken), cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert str(broken) in proc.stderr and "site.timezone" in proc.stderr
    missing = digest(
        "build", cwd=tmp_path / "..", env_extra={"DIGEST_CONFIG": "/nope.toml"}, check=False
    )
    assert missing.returncode == 2 and "/nope.toml" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_every_source_failing_stops_the_build(site, tmp_path):
    (tmp_path / "empty.txt").write_text("")
    proc = digest(
        "build",
        "--source",
        str(tmp_path / "empty.txt"),
        "--source",
        str(tmp_path / "absent.xml"),
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 1
    assert "every source failed" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "edition.json").exists()


def test_one_broken_source_warns_and_the_edition_goes_on(site, tmp_path):
    proc = digest(
        "build",
        "--source",
        str(SAMPLE),
        "--source",
        str(tmp_path / "absent.xml"),
        "--now",
        SAMPLE_NOW,
        cwd=tmp_path,
    )
    assert "warning" in proc.stderr and "absent.xml" in proc.stderr
    data = json.loads((tmp_path / "out" / "edition.json").read_text(encoding="utf-8"))
    assert len(data["ticker"]) == 9
    assert any("absent.xml" in w for w in data["warnings"])
    assert [s["ok"] for s in data["sources"]] == [True, False]


def test_import_send_outbox_and_unsubscribe(site, tmp_path):
    proc = digest("subscribers", "import", str(EXAMPLE_CSV), "--list", "matinale", cwd=tmp_path)
    assert "10 added" in proc.stdout
    again = digest("subscribers", "import", str(EXAMPLE_CSV), "--list", "matinale", cwd=tmp_path)
    assert "0 added" in again.stdout and "10 unchanged" in again.stdout
    digest(
        "subscribers", "unsubscribe", "ZOE.moreau@example.org", "--list", "matinale", cwd=tmp_path
    )

    dry = digest(
        "send",
        "--list",
        "matinale",
        "--now",
        SAMPLE_NOW,
        "--dry-run",
        "--out",
        str(tmp_path / "dry"),
        cwd=tmp_path,
    )
    assert "would send to 9 subscribers" in dry.stdout
    assert not list((tmp_path / "dry").glob("*.eml"))

    out = tmp_path / "outbox"
    proc = digest(
        "send",
        "--list",
        "matinale",
        "--now",
        SAMPLE_NOW,
        "--out",
        str(out),
        cwd=tmp_path,
        env_extra={"DIGEST_SECRET_KEY": "k" * 40},
    )
    emls = sorted(out.glob("*.eml"))
    assert len(emls) == 9
    recipients = set()
    for path in emls:
        msg = message_from_bytes(path.read_bytes(), policy=default)
        recipients.add(msg["To"].addresses[0].addr_spec)
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg.get_body(("plain",)).get_content().count("Le Maroc et la France") == 1
    assert "zoe.moreau@example.org" not in {r.lower() for r in recipients}
    assert "jean.dupont@example.org" in recipients

    export = digest("subscribers", "export", "--list", "matinale", cwd=tmp_path)
    lines = export.stdout.splitlines()
    assert lines[0] == "email,name,locale,status" and len(lines) == 11
    assert any(
        line.startswith("zoe.moreau@example.org") and line.endswith("unsubscribed")
        for line in lines
    )


def test_unknown_list_is_a_clear_error(site, tmp_path):
    proc = digest("subscribers", "export", "--list", "nope", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "nope" in proc.stderr and "Traceback" not in proc.stderr


def test_help_explains_options(tmp_path):
    proc = digest("send", "--help", cwd=tmp_path)
    for option in ("--list", "--backend", "--now", "--source", "--out", "--dry-run", "--config"):
        assert option in proc.stdout


def test_non_ascii_local_parts_in_the_import_report_and_status(site, tmp_path):
    csv = tmp_path / "utf8.csv"
    csv.write_text("email,name,locale\ndédé@exemple.fr,Dédé,\nok@example.org,Ok,\n", "utf-8")
    proc = digest("subscribers", "import", str(csv), "--list", "matinale", cwd=tmp_path)
    assert "2 added" in proc.stdout
    note = (
        "1 address has a non-ASCII local part (SMTPUTF8): the outbox and SendGrid deliver "
        "them; smtp (localhost:587) only if that relay offers SMTPUTF8"
    )
    assert note in " ".join(proc.stderr.split())
    out = tmp_path / "outbox"
    digest(
        "send", "--list", "matinale", "--now", SAMPLE_NOW, "--out", str(out), cwd=tmp_path,
        env_extra={"DIGEST_SECRET_KEY": "k" * 40},
    )  # fmt: skip
    assert len(list(out.glob("*.eml"))) == 2
    status = digest("status", "matinale-2025-07-01", cwd=tmp_path)
    text = " ".join(status.stdout.split())
    assert note in text and "here: 1 sent" in text
    plain = tmp_path / "plain.csv"
    plain.write_text("email\nother@example.org\n", "utf-8")
    again = digest("subscribers", "import", str(plain), "--list", "matinale", cwd=tmp_path)
    assert "SMTPUTF8" not in again.stderr  # only the addresses of this file are counted


def test_erase_then_import_skips_the_address(site, tmp_path):
    from tests.conftest import EXAMPLE_CSV

    digest("subscribers", "import", str(EXAMPLE_CSV), "--list", "matinale", cwd=tmp_path)
    done = digest("erase", "camille.martin@example.com", "--yes", cwd=tmp_path)
    assert "erased subscriber" in done.stdout and "hash" in done.stdout
    again = digest("subscribers", "import", str(EXAMPLE_CSV), "--list", "matinale", cwd=tmp_path)
    assert "1 erased on request, not imported" in " ".join(again.stdout.split())
    listed = digest("subscribers", "list", "--list", "matinale", cwd=tmp_path)
    assert "camille.martin@example.com" not in listed.stdout
