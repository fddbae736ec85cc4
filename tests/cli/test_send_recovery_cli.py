"""The operator's commands after a refusal, as they run them: a real `digest` process, the real
sendgrid library or smtplib against the loopback servers, SQLite and PostgreSQL (issue 11)."""

import os
import signal
import socket
import subprocess
import sys
from collections import Counter

import pytest

from digest.config import load_config
from digest.store import ledger
from digest.store.db import open_database
from digest.store.editions import get_edition
from tests.conftest import SAMPLE_NOW
from tests.delivery.sendgrid_server import SendGridServer
from tests.delivery.smtp_server import SmtpTestServer, wait_until

KEY = "SG.loopback-test-key"
EDITION = "matinale-2025-07-01"


def environ(api_host=None):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "SENDGRID_"))}
    clean["DIGEST_SECRET_KEY"] = "s" * 40
    clean["COLUMNS"] = "240"  # rich wraps at 80 otherwise: sentences stay on one line
    if api_host:
        clean.update(SENDGRID_API_HOST=api_host, SENDGRID_API_KEY=KEY)
    return clean


def digest(*args, cwd, api_host=None, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", "digest", *args],
        cwd=cwd,
        env=environ(api_host),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def subscribe(site, tmp_path, n, extra=""):
    site.write_text(
        site.read_text() + "\n[delivery]\nbackoff_base = 0.05\nbackoff_max = 1\n"
        "max_retries = 2\n" + extra
    )
    csv = tmp_path / "list.csv"
    csv.write_text(
        "email,name\n" + "".join(f"reader{i:05d}@example.com,Lecteur {i}\n" for i in range(n)),
        encoding="utf-8",
    )
    digest("subscribers", "import", str(csv), "--list", "matinale", cwd=tmp_path)
    return [f"reader{i:05d}@example.com" for i in range(n)]


def sendgrid_send(tmp_path, server_or_url, *extra, check=False):
    url = server_or_url if isinstance(server_or_url, str) else server_or_url.url
    return digest(
        "send",
        "--list",
        "matinale",
        "--backend",
        "sendgrid",
        "--now",
        SAMPLE_NOW,
        "--out",
        str(tmp_path / "ed"),
        *extra,
        cwd=tmp_path,
        api_host=url,
        check=check,
    )


def smtp_setup(site, port):
    site.write_text(
        site.read_text() + f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\n'
        'security = "none"\ntimeout = 5\n'
    )


def smtp_send(tmp_path, *extra, check=False):
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
        *extra,
        cwd=tmp_path,
        check=check,
    )


def counts(site):
    with open_database(load_config(site, env={}).database_url) as db:
        return ledger.counts(db, EDITION)


# -- 1. a refused batch is not lost -----------------------------------------------------------


def test_a_sendgrid_400_batch_is_sent_by_retry_failed(site, tmp_path):
    everyone = subscribe(site, tmp_path, 3_000)
    with SendGridServer(api_key=KEY, keep_bodies=False) as server:
        server.script(["ok", "400"])
        paused = sendgrid_send(tmp_path, server)
        assert paused.returncode == 1 and "--retry-failed" in paused.stderr
        resumed = sendgrid_send(tmp_path, server)  # what the README said: the rest goes out
        assert resumed.returncode == 0
        assert "1000 delivery(ies) failed" in resumed.stderr and "--retry-failed" in resumed.stderr
        assert len(server.delivered_addresses()) == 2_000
        status = digest("status", EDITION, cwd=tmp_path).stdout
        assert "1000 × SendGrid refused the request (400)" in status
        # Before: no command put the 1,000 back; the edition was sent and they never got it.
        retried = sendgrid_send(tmp_path, server, "--retry-failed", check=True)
        assert "1000 failed (--retry-failed)" in retried.stdout
    assert sorted(server.delivered_addresses()) == everyone  # everyone, exactly once
    assert counts(site)["failed"] == 0
    status = digest("status", EDITION, cwd=tmp_path).stdout
    assert "status sent" in status and "retried (--retry-failed): 1000, now 1000 sent" in status


def test_smtp_553_and_451s_past_the_retries_are_sent_by_retry_failed(site, tmp_path):
    with SmtpTestServer() as server:
        smtp_setup(site, server.port)
        everyone = subscribe(site, tmp_path, 250, "error_budget = 0.5\n")
        server.refuse_sender = lambda accepted: 553 if accepted >= 100 else None
        flaky = everyone[200:205]
        for address in flaky:
            server.fail_data[address] = 451
        paused = smtp_send(tmp_path)
        assert paused.returncode == 1 and "553" in paused.stderr
        assert counts(site)["failed"] == 100  # the refused batch: before, lost for good
        server.refuse_sender = None
        done = smtp_send(tmp_path)
        assert done.returncode == 0
        c = counts(site)
        assert c["failed"] == 105 and c["sent"] == 145  # 5 gave up on 451
        server.fail_data.clear()
        only_553 = smtp_send(tmp_path, "--retry-failed", "--reason", "553", check=True)
        assert "100 failed (--retry-failed)" in only_553.stdout
        assert counts(site)["failed"] == 5
        smtp_send(tmp_path, "--retry-failed", "--reason", "GAVE UP", check=True)
        server.wait_for(250)
    assert Counter(server.recipients()) == Counter(everyone)
    assert counts(site)["sent"] == 250


def test_reason_needs_retry_failed(site, tmp_path):
    subscribe(site, tmp_path, 1)
    proc = smtp_send(tmp_path, "--reason", "553")
    assert proc.returncode == 2 and "--reason goes with --retry-failed" in proc.stderr


# -- 2 and 5. unknown: never resent blindly, resent on request even once sent -------------------


def test_smtp_drop_after_the_relay_queued_it_is_unknown_not_a_duplicate(site, tmp_path):
    with SmtpTestServer() as server:
        smtp_setup(site, server.port)
        everyone = subscribe(site, tmp_path, 120)
        server.drop_after, server.drop_at = 50, "queued"
        proc = smtp_send(tmp_path, check=True)
        server.wait_for(120)
        # Before: the queued message was resent on the new connection: 2 duplicates.
        assert Counter(server.recipients()) == Counter(everyone)
        assert counts(site)["unknown"] == 2 and "via smtp: sent" in proc.stdout.replace("\n", " ")
        # The operator decides: resend them (they get it twice: the relay had it).
        again = smtp_send(tmp_path, "--resend-unknown", check=True)
        assert "2 unknown (--resend-unknown)" in again.stdout
        server.wait_for(122)
        nothing = smtp_send(tmp_path, "--resend-unknown", check=True)  # none left: exit 0
        assert "nothing to do" in nothing.stdout and len(server.messages) == 122
    assert counts(site)["unknown"] == 0
    status = digest("status", EDITION, cwd=tmp_path).stdout
    assert "resent (--resend-unknown): 2, now 2 sent" in status


def test_sendgrid_drops_after_the_body_are_unknown_and_resend_unknown_reopens_a_sent_edition(
    site, tmp_path
):
    everyone = subscribe(site, tmp_path, 3_000)
    with SendGridServer(api_key=KEY, keep_bodies=False) as server:
        server.script(["ok", "drop-after-accept", "drop"])
        first = sendgrid_send(tmp_path, server)
        # A lost answer spends the error budget like a failure: the send pauses.
        assert first.returncode == 1 and "error budget" in first.stderr
        assert counts(site)["unknown"] == 1_000
        assert sendgrid_send(tmp_path, server).returncode == 1  # the "drop": budget again
        sendgrid_send(tmp_path, server, check=True)  # nothing left pending: sent
        c = counts(site)
        assert (c["sent"], c["unknown"]) == (1_000, 2_000)
        assert server.attempts == 3
        delivered = Counter(server.delivered_addresses())
        assert max(delivered.values()) == 1  # before: retried blindly, 1,000 twice
        again = sendgrid_send(tmp_path, server)
        assert "sent already; nothing to do" in again.stdout
        # Before: "sent already; nothing to do" while 1,000 never got it.
        resent = sendgrid_send(tmp_path, server, "--resend-unknown", check=True)
        assert "2000 unknown (--resend-unknown)" in resent.stdout
    delivered = Counter(server.delivered_addresses())
    assert set(delivered) == set(everyone)
    assert sum(delivered.values()) == 4_000  # the 1,000 accepted-then-dropped got it twice
    assert counts(site)["sent"] == 3_000


def test_a_refused_connection_is_safe_to_retry_and_stays_pending(site, tmp_path):
    everyone = subscribe(site, tmp_path, 1_500)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{s.getsockname()[1]}"
    gone = sendgrid_send(tmp_path, nobody)
    assert gone.returncode == 1 and "could not reach SendGrid" in gone.stderr
    c = counts(site)
    assert (c["pending"], c["unknown"], c["failed"]) == (1_500, 0, 0)
    with SendGridServer(api_key=KEY, keep_bodies=False) as server:
        sendgrid_send(tmp_path, server, check=True)
    assert sorted(server.delivered_addresses()) == everyone


# -- 8. SIGTERM during a long Retry-After ----------------------------------------------------


def test_sigterm_interrupts_a_retry_after_wait(site, tmp_path):
    subscribe(site, tmp_path, 2_000)
    with SendGridServer(api_key=KEY, keep_bodies=False) as server:
        server.script(["ok", "429:900"])
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "digest",
                "send",
                "--list",
                "matinale",
                "--backend",
                "sendgrid",
                "--now",
                SAMPLE_NOW,
                "--out",
                str(tmp_path / "ed"),
            ],
            cwd=tmp_path,
            env=environ(server.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert wait_until(lambda: server.attempts == 2, timeout=60)
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=60)  # not 900 s
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130, stderr
        assert server.attempts == 2
    c = counts(site)
    assert (c["sent"], c["pending"], c["sending"], c["unknown"]) == (1_000, 1_000, 0, 0)


# -- cancel ------------------------------------------------------------------------------------


def test_cancel_from_the_command_line(site, tmp_path):
    subscribe(site, tmp_path, 3_000)
    with SendGridServer(api_key=KEY, keep_bodies=False) as server:
        server.script(["ok", "400"])
        sendgrid_send(tmp_path, server)
        done = digest("cancel", EDITION, "--reason", "the wrong day", cwd=tmp_path)
        assert "1000 pending deliveries will not be sent" in done.stdout
        again = sendgrid_send(tmp_path, server, "--retry-failed", check=True)
        assert "was cancelled; nothing to do" in again.stdout
        assert server.attempts == 2
    status = digest("status", EDITION, cwd=tmp_path).stdout
    assert "status cancelled: the wrong day" in status
    assert "cancelled" in digest("cancel", EDITION, cwd=tmp_path).stdout
    missing = digest("cancel", "matinale-1999-01-01", cwd=tmp_path, check=False)
    assert missing.returncode == 1 and "no stored edition" in missing.stderr
    assert "Traceback" not in missing.stderr


# -- 8. --dry-run stores nothing; --out ----------------------------------------------------------


def test_a_dry_run_stores_nothing(site, tmp_path):
    subscribe(site, tmp_path, 3)
    dry = digest(
        "send",
        "--list",
        "matinale",
        "--now",
        "2025-07-01T06:00:00+01:00",
        "--out",
        str(tmp_path / "dry"),
        "--dry-run",
        cwd=tmp_path,
    )
    assert "5 headlines" in dry.stdout and "nothing was stored" in dry.stdout
    with open_database(load_config(site, env={}).database_url) as db:
        assert get_edition(db, EDITION) is None  # before: stored, and mailed at 08:00
    digest(
        "send",
        "--list",
        "matinale",
        "--now",
        SAMPLE_NOW,
        "--out",
        str(tmp_path / "o"),
        cwd=tmp_path,
    )
    with open_database(load_config(site, env={}).database_url) as db:
        assert len(get_edition(db, EDITION).edition.ticker) == 9


def test_an_out_folder_that_cannot_be_written_is_one_sentence(site, tmp_path):
    subscribe(site, tmp_path, 2)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for command in ("build", "send"):
        args = ["--list", "matinale"] if command == "send" else []
        proc = digest(
            command,
            *args,
            "--now",
            SAMPLE_NOW,
            "--out",
            str(blocker / "out"),
            cwd=tmp_path,
            check=False,
        )
        assert proc.returncode == 1, proc.stderr
        assert "cannot write the edition files to" in proc.stderr
        assert "Traceback" not in proc.stderr


@pytest.mark.sqlite_only
def test_two_writers_of_the_same_file_do_not_share_a_temporary_file(tmp_path, monkeypatch):
    """Two sends with the same --out: the second writes while the first is between writing its
    temporary file and renaming it (forced here by re-entering from os.replace)."""
    import digest.private_files
    from digest.edition.files import write_text_atomic

    target = tmp_path / "edition.json"
    real_replace = os.replace
    entered = []

    def replace_after_another_writer(src, dst):
        if not entered:
            entered.append(src)
            write_text_atomic(target, "second\n")  # before: renamed the shared .tmp away
        real_replace(src, dst)

    monkeypatch.setattr(digest.private_files.os, "replace", replace_after_another_writer)
    write_text_atomic(target, "first\n")
    assert target.read_text() == "first\n"
    assert [p.name for p in tmp_path.iterdir()] == ["edition.json"]  # no temporary left
