"""Senders as operators run them: real `digest send` processes, the real sendgrid library
against the loopback SendGrid-like server, SQLite and PostgreSQL (issue 11, items 3 and 6)."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import select

from digest.config import load_config
from digest.store import schema as t
from digest.store.db import open_database
from tests.cli.test_send_recovery_cli import EDITION, KEY, digest, environ, subscribe
from tests.conftest import SAMPLE_NOW
from tests.delivery.sendgrid_server import SendGridServer
from tests.delivery.smtp_server import wait_until


def start_send(tmp_path, server, *extra):
    return subprocess.Popen(
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
            *extra,
        ],
        cwd=tmp_path,
        env=environ(server.url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc, timeout=240):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def test_a_long_retry_after_keeps_the_lease_and_a_second_send_is_refused(site, tmp_path):
    """Before: a 429 with Retry-After past the lease's 90 s left it stale and a second send was
    accepted while the first lived. The lease is 1 s here, the Retry-After 20 s."""
    everyone = subscribe(site, tmp_path, 30, "lease_seconds = 1\n")
    with SendGridServer(api_key=KEY, keep_bodies=False) as server:
        server.script(["429:20"])
        first = start_send(tmp_path, server)
        wait_until(lambda: server.answers, timeout=60)
        time.sleep(2.5)  # two and a half leases into the wait
        second = digest(
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
            api_host=server.url,
            check=False,
        )
        code, out, err = finish(first)
    assert code == 0, out + err
    assert second.returncode == 1 and "Traceback" not in second.stderr
    assert "is being sent by another process" in second.stderr
    if load_config(site, env={}).database_url.startswith("sqlite"):
        assert "SQLite: one sender per edition; use PostgreSQL for several" in second.stderr
    else:
        assert "--join" in second.stderr
    assert Counter(server.delivered_addresses()) == Counter(everyone)


def test_three_workers_share_an_edition_and_a_killed_ones_batch_is_unknown(site, tmp_path):
    url = load_config(site, env={}).database_url
    everyone = subscribe(site, tmp_path, 3_000, "batch_size = 100\nlease_seconds = 3\n")
    gate = threading.Event()
    with SendGridServer(api_key=KEY, keep_bodies=False) as server:
        # Every request is held (accepted, not answered) until the gate opens: the three
        # workers, slow to start on a busy machine, are all at work with a batch in flight.
        server.on_accept = lambda n: gate.wait(120)
        if url.startswith("sqlite"):
            first = start_send(tmp_path, server, "--join")
            wait_until(lambda: server.answers or server.message_ids, timeout=120)
            refused = digest(
                "send",
                "--list",
                "matinale",
                "--backend",
                "sendgrid",
                "--now",
                SAMPLE_NOW,
                "--out",
                str(tmp_path / "ed"),
                "--join",
                cwd=tmp_path,
                api_host=server.url,
                check=False,
            )
            gate.set()
            assert finish(first)[0] == 0
            assert refused.returncode == 1 and "Traceback" not in refused.stderr
            assert "SQLite: one sender per edition; use PostgreSQL for several" in refused.stderr
            assert Counter(server.delivered_addresses()) == Counter(everyone)
            return
        procs = [start_send(tmp_path, server, "--join")]
        with open_database(url) as db:
            wait_until(lambda: _workers(db), timeout=120)  # the edition is built and stored
            procs += [start_send(tmp_path, server, "--join") for _ in range(2)]
            if not wait_until(lambda: len(_in_flight(db)) == 3, timeout=180):
                gate.set()
                pytest.fail(
                    f"three workers never had batches in flight at once: "
                    f"{[finish(p) for p in procs]}"
                )
            victim = sorted(_in_flight(db))[1]
            pid = int(victim.split(":")[1])
            os.kill(pid, signal.SIGKILL)  # its batch: accepted by the provider, never answered
            wait_until(lambda: next(p for p in procs if p.pid == pid).poll() is not None)
            server.delay = 0.01
            gate.set()
            results = [finish(p) for p in procs]
            with db.read() as conn:
                rows = conn.execute(
                    select(
                        t.subscribers.c.email, t.deliveries.c.status, t.deliveries.c.worker
                    ).join(t.subscribers, t.subscribers.c.id == t.deliveries.c.subscriber_id)
                ).all()
                edition_status = conn.scalar(select(t.editions.c.status))
    by_pid = dict(zip((p.pid for p in procs), results, strict=True))
    assert by_pid.pop(pid)[0] == -signal.SIGKILL
    assert all(code == 0 for code, _, _ in by_pid.values()), by_pid
    unknown = {email for email, status, _ in rows if status == "unknown"}
    assert len(unknown) == 100  # the batch it had in flight, and only that one
    assert all(worker == victim for _, status, worker in rows if status == "unknown")
    got = Counter(server.delivered_addresses())
    assert all(n == 1 for n in got.values()) and set(got) <= set(everyone)  # nobody twice
    # Everyone got it, except perhaps some of the dead worker's batch: reported unknown.
    assert set(everyone) - set(got) <= unknown
    assert all(status == "sent" for email, status, _ in rows if email not in unknown)
    senders = {w for _, status, w in rows if status == "sent"}
    assert len(senders) == 2 and victim not in senders  # the two others shared the rest
    assert edition_status == "sent"
    status = digest("status", EDITION, cwd=tmp_path).stdout
    assert status.count("  worker ") == 3 and status.count(": dead (") == 1, status


def _workers(db):
    with db.read() as conn:
        return conn.execute(select(t.send_workers.c.owner)).all()


def _in_flight(db) -> set[str]:
    """Workers holding rows 'sending' right now."""
    with db.read() as conn:
        return {
            w
            for (w,) in conn.execute(
                select(t.deliveries.c.worker).where(t.deliveries.c.status == "sending").distinct()
            )
            if w
        }
