"""`digest send --backend sendgrid` as an operator runs it: a real process, the real sendgrid
library, a SendGrid-like server on loopback, a real SQLite file; faults and SIGKILL included."""

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from digest.config import load_config
from digest.store import ledger
from digest.store.db import open_database
from tests.conftest import SAMPLE_NOW
from tests.delivery.sendgrid_server import SendGridServer

KEY = "SG.loopback-test-key"


def env(server):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "SENDGRID_"))}
    return {
        **clean,
        "SENDGRID_API_HOST": server.url,
        "SENDGRID_API_KEY": KEY,
        "DIGEST_SECRET_KEY": "s" * 40,
    }


def digest(*args, cwd, environ, check=True, timeout=300):
    proc = subprocess.run(
        [sys.executable, "-m", "digest", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture
def list_of(site, tmp_path):
    site.write_text(
        site.read_text() + "\n[delivery]\nbackoff_base = 0.05\nbackoff_max = 2\nmax_retries = 4\n"
    )

    def make(n):
        csv = tmp_path / "list.csv"
        csv.write_text(
            "email,name\n" + "".join(f"reader{i:06d}@example.com,Lecteur {i}\n" for i in range(n)),
            encoding="utf-8",
        )
        proc = digest(
            "subscribers",
            "import",
            str(csv),
            "--list",
            "matinale",
            cwd=tmp_path,
            environ=os.environ.copy(),
        )
        assert f"{n} added" in proc.stdout
        return [f"reader{i:06d}@example.com" for i in range(n)]

    return make


def send(tmp_path, server, *extra, check=True):
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
        environ=env(server),
        check=check,
    )


def test_20000_subscribers_in_exactly_20_valid_requests(list_of, tmp_path):
    everyone = list_of(20_000)
    with SendGridServer(api_key=KEY, keep_bodies=False) as server:
        proc = send(tmp_path, server)
        assert server.attempts == 20
        assert server.violations == []
        assert sorted(server.delivered_addresses()) == everyone
        assert "sent" in proc.stdout
        again = send(tmp_path, server, check=False)
        assert again.returncode == 0 and "sent already" in again.stdout
        assert server.attempts == 20


def test_faults_are_retried_and_nobody_gets_it_twice(list_of, tmp_path):
    everyone = list_of(5_000)
    with SendGridServer(api_key=KEY, keep_bodies=False) as server:
        # Answers that say it was not accepted; a drop after the body is sent is not retried
        # (tests/test_send_recovery_cli.py).
        server.script(["429", "ok", "500", "502", "ok", "503", "429-reset", "500"])
        proc = send(tmp_path, server)
        delivered = server.delivered_addresses()
        assert sorted(delivered) == everyone, proc.stderr
        assert server.violations == []
        assert server.attempts == 5 + 6  # 5 batches, 6 faults each retried
    assert "matinale-2025-07-01 via sendgrid: sent" in proc.stdout.replace("\n", " ")


def test_a_bad_key_stops_at_once_and_says_so(list_of, tmp_path):
    list_of(3_000)
    with SendGridServer(api_key="SG.another-key") as server:
        proc = send(tmp_path, server, check=False)
        assert server.attempts == 1
    assert proc.returncode == 1
    assert "SENDGRID_API_KEY" in proc.stderr and KEY not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_400_fails_the_batch_and_pauses_then_resumes(list_of, tmp_path, site):
    everyone = list_of(3_000)
    with SendGridServer(api_key=KEY) as server:
        server.script(["ok", "400"])
        paused = send(tmp_path, server, check=False)
        assert paused.returncode == 1 and "paused" in paused.stderr
        assert server.attempts == 2
        resumed = send(tmp_path, server)
        assert "status paused" in resumed.stdout
    delivered = server.delivered_addresses()
    assert len(delivered) == 2_000 == len(set(delivered))
    db = open_database(load_config(site, env={}).database_url)
    assert ledger.counts(db, "matinale-2025-07-01")["failed"] == 1_000
    failed = set(everyone) - set(delivered)
    assert len(failed) == 1_000


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_at_a_random_point_then_resume_sends_nobody_twice(list_of, tmp_path, site, seed):
    rng = random.Random(seed)
    everyone = set(list_of(3_000))
    site.write_text(site.read_text() + "batch_size = 100\n")
    with SendGridServer(api_key=KEY, keep_bodies=False) as server:
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
            env=env(server),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        target = rng.randint(1, 25)
        deadline = time.monotonic() + 60
        while server.attempts < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(rng.random() * 0.03)  # somewhere inside or between requests
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL  # killed, not finished
        before = Counter(server.delivered_addresses())
        assert 0 < sum(before.values()) < 3_000 or target == 1

        resumed = send(tmp_path, server)
        delivered = Counter(server.delivered_addresses())

    db = open_database(load_config(site, env={}).database_url)
    counts = ledger.counts(db, "matinale-2025-07-01")
    assert max(delivered.values()) == 1, "somebody got the edition twice"
    assert counts["unknown"] <= 100  # at most the one batch in flight
    assert counts["sent"] + counts["unknown"] == 3_000 and counts["pending"] == 0
    missing = everyone - set(delivered)
    assert len(missing) <= counts["unknown"]
    if counts["unknown"]:
        assert "--resend-unknown" in resumed.stderr
    print(
        f"seed {seed}: killed after {sum(before.values())} delivered; "
        f"{counts['unknown']} unknown, {len(missing)} of them never arrived"
    )


def test_sigterm_finishes_the_batch_in_flight_and_resume_completes(list_of, tmp_path, site):
    everyone = list_of(3_000)
    site.write_text(site.read_text() + "batch_size = 100\n")
    with SendGridServer(api_key=KEY, keep_bodies=False) as server:
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
            env=env(server),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while server.attempts < 3 and time.monotonic() < deadline:
            time.sleep(0.001)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 130, stdout + stderr
        assert "interrupted" in stdout and "resume" in stderr
        first = len(server.delivered_addresses())

        db = open_database(load_config(site, env={}).database_url)
        counts = ledger.counts(db, "matinale-2025-07-01")
        assert counts["unknown"] == 0 and counts["sending"] == 0  # the batch was recorded
        assert counts["sent"] == first and 0 < first < 3_000

        send(tmp_path, server)
        delivered = server.delivered_addresses()
    assert sorted(delivered) == sorted(everyone)


def test_readers_in_three_locales_get_one_request_per_variant_in_their_language(site, tmp_path):
    readers = [(f"fr{i}@example.com", "fr") for i in range(30)]
    readers += [(f"ar{i}@example.com", "ar") for i in range(20)]
    readers += [(f"en{i}@example.com", "en_GB") for i in range(10)]
    csv = tmp_path / "list.csv"
    csv.write_text(
        "email,name,locale\n" + "".join(f"{e},Reader,{loc}\n" for e, loc in readers), "utf-8"
    )
    digest(
        "subscribers",
        "import",
        str(csv),
        "--list",
        "matinale",
        cwd=tmp_path,
        environ=os.environ.copy(),
    )
    with SendGridServer(api_key=KEY) as server:
        send(tmp_path, server)
        assert server.violations == []
        bodies = server.requests
    assert len(bodies) == 3  # one batch, split by variant: one request each
    for body in bodies:
        html = next(c["value"] for c in body["content"] if c["type"] == "text/html")
        to = [p["to"][0]["email"] for p in body["personalizations"]]
        lang = html.split('<html lang="', 1)[1][:2]
        assert {address[:2] for address in to} == {lang}, (lang, to[:3])
        if lang == "ar":
            assert 'dir="rtl"' in html and len(to) == 20
        assert len(set(to)) == len(to)
    assert sorted(server.delivered_addresses()) == sorted(e for e, _ in readers)
