"""digest editor-password, digest preview --screenshot, digest serve: in real processes."""

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from digest.web.passwords import verify_password
from tests.cli.test_cli import digest
from tests.conftest import SAMPLE_NOW


def test_editor_password_prints_a_hash_the_config_accepts(site, tmp_path):
    proc = digest("editor-password", "--password", "a long passphrase", cwd=tmp_path)
    hashed = proc.stdout.strip()
    assert verify_password("a long passphrase", hashed)
    with open(site, "a", encoding="utf-8") as fh:
        fh.write(f'\n[editors]\nyoussef = "{hashed}"\n')
    from digest.config import load_config

    assert "youssef" in load_config(site, env={}).editors
    short = digest("editor-password", "--password", "short", cwd=tmp_path, check=False)
    assert short.returncode != 0


def test_editors_table_refuses_plain_passwords(site):
    from digest.config import load_config
    from digest.errors import ConfigError

    with open(site, "a", encoding="utf-8") as fh:
        fh.write('\n[editors]\namina = "hunter2"\n')
    with pytest.raises(ConfigError, match="editors.amina"):
        load_config(site, env={})


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="Chromium is not installed")
def test_preview_screenshots_at_375_and_800(site, tmp_path):
    shots = tmp_path / "shots"
    proc = digest(
        "--config",
        str(site),
        "preview",
        "--now",
        SAMPLE_NOW,
        "--screenshot",
        str(shots),
        cwd=tmp_path,
    )
    assert sorted(p.name for p in shots.glob("*.png")) == [
        "matinale-2025-07-01-375.png",
        "matinale-2025-07-01-800.png",
    ]
    assert "375.png" in proc.stdout
    for width in (375, 800):
        w, h = png_size(shots / f"matinale-2025-07-01-{width}.png")
        assert w == width and h > 600  # full page: the whole email, not one screen


def test_serve_starts_the_app(site, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "SENDGRID_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "digest", "--config", str(site), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/digest/archive", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(proc.stderr.read().decode()) from None
                time.sleep(0.1)
        assert response.status_code == 200 and "Archive" in response.text
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)


def test_access_log_redacts_subscription_tokens():
    import logging

    from digest.web.logredact import RedactTokens

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "POST", "/digest/u/5.matinale.SIGNATURE?x=1", "1.1", 200),
        None,
    )
    RedactTokens().filter(record)
    assert "SIGNATURE" not in record.getMessage()
    assert "/digest/u/[token]?x=1" in record.getMessage()
