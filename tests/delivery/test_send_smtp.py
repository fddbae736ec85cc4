"""`digest send --backend smtp` as an operator runs it: a real process, a real SMTP server on
loopback (aiosmtpd), a real SQLite file."""

import os
import subprocess
import sys
from collections import Counter

from tests.conftest import SAMPLE_NOW
from tests.delivery.smtp_server import SmtpTestServer


def digest(*args, cwd, check=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "SENDGRID_"))}
    env["DIGEST_SECRET_KEY"] = "s" * 40
    proc = subprocess.run(
        [sys.executable, "-m", "digest", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def setup(site, tmp_path, port, n):
    site.write_text(
        site.read_text() + f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\n'
        'security = "none"\ntimeout = 5\n\n[delivery]\nbackoff_base = 0.05\n'
    )
    csv = tmp_path / "list.csv"
    csv.write_text(
        "email,name\n" + "".join(f"reader{i:04d}@example.com,Lecteur {i}\n" for i in range(n)),
        encoding="utf-8",
    )
    digest("subscribers", "import", str(csv), "--list", "matinale", cwd=tmp_path)
    return {f"reader{i:04d}@example.com" for i in range(n)}


def send(tmp_path, check=True):
    return digest(
        "send",
        "--list",
        "matinale",
        "--backend",
        "smtp",
        "--now",
        SAMPLE_NOW,
        "--out",
        str(tmp_path / "ed"),
        cwd=tmp_path,
        check=check,
    )


def test_smtp_send_over_one_connection_everyone_once(site, tmp_path):
    with SmtpTestServer() as server:
        everyone = setup(site, tmp_path, server.port, 250)
        proc = send(tmp_path)
        received = server.wait_for(250)
        assert server.connections == 1
    assert Counter(r for m in received for r in m.rcpt_tos) == Counter(everyone)
    first = received[0].message()
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert [p.get_content_type() for p in first.iter_parts()] == ["text/plain", "text/html"]
    assert "via smtp: sent" in proc.stdout.replace("\n", " ")


def test_refusals_fail_one_recipient_and_a_dropped_connection_is_reopened(site, tmp_path):
    with SmtpTestServer() as server:
        everyone = setup(site, tmp_path, server.port, 120)
        server.refuse_rcpt["reader0007@example.com"] = 550
        server.drop_after = 50
        proc = send(tmp_path)
        received = server.wait_for(119)
        assert server.connections == 3  # the server drops each connection after 50 messages
    delivered = Counter(r for m in received for r in m.rcpt_tos)
    assert max(delivered.values()) == 1
    assert set(delivered) == everyone - {"reader0007@example.com"}
    assert "reader0007@example.com" in proc.stderr and "550" in proc.stderr
    status = digest("status", "matinale-2025-07-01", cwd=tmp_path)
    assert "sent" in status.stdout and "failed reader0007@example.com" in status.stdout


def test_smtp_send_over_four_connections_everyone_once(site, tmp_path):
    with SmtpTestServer() as server:
        everyone = setup(site, tmp_path, server.port, 250)
        site.write_text(site.read_text().replace("[smtp]\n", "[smtp]\nconnections = 4\n"))
        proc = send(tmp_path)
        received = server.wait_for(250)
        assert server.connections == 4  # each opened once and reused for every batch
    assert Counter(r for m in received for r in m.rcpt_tos) == Counter(everyone)
    assert "via smtp: sent" in proc.stdout.replace("\n", " ")
