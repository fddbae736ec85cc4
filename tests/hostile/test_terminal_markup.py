"""Hostile text on the operator's terminal: what the CLI prints from data is shown as text.

Headlines, error bodies from a provider, config messages, names and paths reach the terminal
through rich. Read as markup, ``[/]`` crashed every build, send and status (MarkupError) and
``[edition]`` vanished from messages; escape sequences (``\\x1b[2J`` clears the screen,
``\\x1b]8;;URL`` hides a link) were written to the terminal raw. Each test names its attack.
"""

import os
import subprocess
import sys

import pytest

from tests.conftest import EXAMPLE_CSV, SAMPLE, SAMPLE_NOW
from tests.delivery import sendgrid_server
from tests.delivery.sendgrid_server import SendGridServer

FEATURED = "Le Maroc et la France renforcent leur coopération sécuritaire"
MARKUP = "[/] Le Maroc [bold red]x [edition] [[sources]] [sources.selectors] [link=https://evil.example]y"
ESCAPES = "\x1b[2J\x1b]8;;https://evil.example/\x1b\\clic\x1b]8;;\x1b\\\x9b31m\u202eevil"


def digest(*args, cwd, env_extra=None, check=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "SENDGRID_"))}
    # Wide enough that no line wraps: the assertions look for whole strings.
    env.update({"COLUMNS": "400", "DIGEST_SECRET_KEY": "s" * 40, **(env_extra or {})})
    proc = subprocess.run(
        [sys.executable, "-m", "digest", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture
def hostile_site(site, tmp_path):
    """The site, its featured headline replaced by MARKUP and the subject made of it."""
    page = tmp_path / "hostile.txt"
    page.write_text(SAMPLE.read_text(encoding="utf-8").replace(FEATURED, MARKUP), encoding="utf-8")
    toml = site.read_text(encoding="utf-8").replace(str(SAMPLE), str(page))
    site.write_text(toml + '\n[edition]\nsubject = "{top}"\n', encoding="utf-8")
    digest("subscribers", "import", str(EXAMPLE_CSV), "--list", "matinale", cwd=tmp_path)
    return site


def test_markup_in_a_headline_is_printed_as_text_by_build_send_and_status(hostile_site, tmp_path):
    built = digest("build", "--now", SAMPLE_NOW, "--out", str(tmp_path / "ed"), cwd=tmp_path)
    assert f"matinale-2025-07-01  {MARKUP}" in built.stdout
    sent = digest(
        "send",
        "--list",
        "matinale",
        "--now",
        SAMPLE_NOW,
        "--out",
        str(tmp_path / "outbox"),
        cwd=tmp_path,
    )
    assert MARKUP in sent.stdout and "via outbox: sent" in sent.stdout
    again = digest(
        "send",
        "--list",
        "matinale",
        "--now",
        SAMPLE_NOW,
        "--out",
        str(tmp_path / "outbox"),
        cwd=tmp_path,
    )  # the stored edition's branch
    assert MARKUP in again.stdout and "was sent already" in again.stdout
    status = digest("status", "matinale-2025-07-01", cwd=tmp_path)
    assert f"matinale-2025-07-01  {MARKUP}" in status.stdout


def test_markup_in_a_provider_error_body_is_printed_as_text(hostile_site, tmp_path, monkeypatch):
    said = "[/] The from address [bold red]x does not match [sender] (see [[docs]])"
    monkeypatch.setitem(sendgrid_server.ERRORS, 400, (said, "from"))
    with SendGridServer(api_key="SG.loopback-test-key") as server:
        server.script(["400"] * 50)
        env = {"SENDGRID_API_HOST": server.url, "SENDGRID_API_KEY": "SG.loopback-test-key"}
        sent = digest(
            "send",
            "--list",
            "matinale",
            "--backend",
            "sendgrid",
            "--now",
            SAMPLE_NOW,
            "--out",
            str(tmp_path / "ed"),
            cwd=tmp_path,
            env_extra=env,
            check=False,
        )
    assert sent.returncode == 1
    assert said in sent.stderr
    status = digest("status", "matinale-2025-07-01", cwd=tmp_path)
    assert said in status.stdout


def test_config_messages_keep_their_brackets(site, tmp_path):
    toml = site.read_text(encoding="utf-8")
    cases = [
        (toml + "\n[edition]\nbogus = 1\n", "unknown key(s) in [edition]: bogus"),
        (
            toml.replace('kind = "text"', 'kind = "text"\nbogus = 1'),
            "unknown key(s) in [sources.homepage]: bogus",
        ),
        (
            toml.replace('title = "La matinale"', 'title = "La matinale"\nbogus = 1'),
            "unknown key(s) in [lists.matinale]: bogus",
        ),
    ]
    for text, message in cases:
        site.write_text(text, encoding="utf-8")
        proc = digest("build", cwd=tmp_path, check=False)
        assert proc.returncode == 2
        assert message in proc.stderr, proc.stderr


@pytest.mark.parametrize("colour", [False, True], ids=["plain", "colour"])
def test_escape_sequences_from_data_never_reach_the_terminal_raw(site, tmp_path, colour):
    """A path and a list title carrying clear-screen, a hidden OSC 8 hyperlink, a one-byte
    CSI and a bidi override. With colour on, rich writes escape sequences of its own, so the
    check there is that none of the data's sequences appears."""
    toml = site.read_text(encoding="utf-8")
    site.write_text(
        toml.replace(
            '[lists.matinale]\ntitle = "La matinale"',
            f'[lists.matinale]\ntitle = "{_toml_escape(ESCAPES)}"',
        ),
        encoding="utf-8",
    )
    env = {"FORCE_COLOR": "1", "TERM": "xterm-256color"} if colour else {"NO_COLOR": "1"}
    digest(
        "subscribers", "import", str(EXAMPLE_CSV), "--list", "matinale", cwd=tmp_path, env_extra=env
    )
    listed = digest("subscribers", "list", cwd=tmp_path, env_extra=env)
    # (Building with that title fails in the renderer, MJML refusing the characters: another
    # matter, so the build below runs with the plain title.)
    site.write_text(toml, encoding="utf-8")
    absent = tmp_path / f"absent{ESCAPES}.xml"
    built = digest(
        "build",
        "--source",
        str(SAMPLE),
        "--source",
        str(absent),
        "--now",
        SAMPLE_NOW,
        "--out",
        str(tmp_path / "ed"),
        cwd=tmp_path,
        env_extra=env,
    )
    shown = listed.stdout + built.stdout + built.stderr
    for raw in ("\x1b[2J", "\x1b]8;;", "\x9b", "\u202e"):
        assert raw not in shown
    if not colour:
        assert "\x1b" not in shown
    assert "\\x1b[2J" in listed.stdout and "\\u202eevil" in listed.stdout
    assert "absent\\x1b[2J\\x1b]8;;https:" in built.stderr  # the warning names the path


def _toml_escape(text: str) -> str:
    return "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in text)
