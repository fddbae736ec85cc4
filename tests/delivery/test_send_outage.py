"""Database outages (issue 11, item 6): PostgreSQL cut for a few seconds mid-send (a TCP proxy in
front of it) or while the scheduler idles, and SQLite locked past its busy timeout. Before,
each ended in a traceback and the batch just delivered was reported unknown."""

import logging
import sqlite3
import threading
import time
from collections import Counter

import pytest
from sqlalchemy.engine import make_url

from digest.config import load_config
from digest.schedule.scheduler import Runner
from digest.store import ledger
from digest.store.db import open_database
from digest.tokens import TokenSigner
from tests.cli.test_send_recovery_cli import EDITION, KEY, counts, digest, sendgrid_send, subscribe
from tests.delivery.sendgrid_server import SendGridServer
from tests.delivery.smtp_server import wait_until
from tests.store.tcp_proxy import TcpProxy


@pytest.fixture
def proxied(site, database_url):
    """The site's PostgreSQL database reached through a proxy the test can cut."""
    if database_url.startswith("sqlite"):
        pytest.skip("a network outage is PostgreSQL's; SQLite's is tested below")
    url = make_url(database_url)
    with TcpProxy(url.host, url.port) as proxy:
        through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        site.write_text(site.read_text().replace(database_url, through))
        yield proxy


def test_postgresql_down_mid_send_the_answer_is_recorded_when_it_is_back(site, tmp_path, proxied):
    everyone = subscribe(site, tmp_path, 1_000, "batch_size = 100\n")
    with SendGridServer(api_key=KEY, keep_bodies=False) as server:

        def cut_on_the_fourth(n):
            if n == 4:  # the provider has taken batch 4; its answer comes back to a dead db
                proxied.cut()
                threading.Timer(4.0, proxied.restore).start()

        server.on_accept = cut_on_the_fourth
        done = sendgrid_send(tmp_path, server)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and proxied.cuts == 1
    assert "the database does not answer" in done.stderr
    assert "the database answers again; carrying on" in done.stderr
    assert Counter(server.delivered_addresses()) == Counter(everyone)
    c = counts(site)
    assert (c["sent"], c["unknown"], c["sending"]) == (1_000, 0, 0)  # batch 4 recorded sent


def test_an_outage_past_the_bound_ends_in_a_sentence_and_a_resume(site, tmp_path, proxied):
    everyone = subscribe(site, tmp_path, 500, "batch_size = 100\ndatabase_retry_seconds = 2\n")
    with SendGridServer(api_key=KEY, keep_bodies=False) as server:
        server.on_accept = lambda n: proxied.cut() if n == 2 else None
        failed = sendgrid_send(tmp_path, server)
        assert failed.returncode == 1 and "Traceback" not in failed.stderr
        said = " ".join(failed.stderr.split())  # rich wraps long sentences
        assert "the database did not answer for 2 s" in said
        assert "run the same command again once the database is back" in said
        proxied.restore()
        server.on_accept = None
        resumed = sendgrid_send(tmp_path, server)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    c = counts(site)
    assert (c["sent"], c["unknown"]) == (400, 100)  # the batch it could not record: reported
    got = Counter(server.delivered_addresses())
    assert set(got) == set(everyone) and all(n == 1 for n in got.values())
    assert "unknown" in digest("status", EDITION, cwd=tmp_path).stdout


def test_the_scheduler_idles_through_an_outage(site, proxied, caplog):
    config = load_config(site, env={})
    db = open_database(config.database_url)
    runner = Runner(
        config, db, out_dir=site.parent / "out", signer=TokenSigner("k" * 40), poll=0.05
    )
    with caplog.at_level(logging.INFO):
        runner.start()
        thread = threading.Thread(target=runner.run)
        thread.start()
        time.sleep(0.3)
        proxied.cut()
        assert wait_until(lambda: "the database does not answer" in caplog.text, timeout=30)
        time.sleep(1.0)
        proxied.restore()
        assert wait_until(lambda: "the database answers again" in caplog.text, timeout=30)
        assert thread.is_alive()  # still scheduling
        runner.stop.set()
        thread.join(timeout=30)
    db.close()
    assert not thread.is_alive()
    assert "Traceback" not in caplog.text


@pytest.mark.sqlite_only
def test_sqlite_locked_past_the_busy_timeout_is_retried(site, monkeypatch, caplog):
    """Another process holding SQLite's write lock longer than busy_timeout: "database is
    locked". The answer of the batch in flight is recorded once the lock is gone."""
    import digest.store.db as dbmod
    from digest.delivery.loop import deliver
    from tests.delivery.test_send_loop import SIGNER, Scripted, stored, subscribe

    monkeypatch.setattr(dbmod, "SQLITE_BUSY_TIMEOUT_MS", 50)
    site.write_text(site.read_text() + "\n[delivery]\nbatch_size = 10\n")
    config = load_config(site, env={})
    db = open_database(config.database_url)
    subscribe(db, 30)
    edition = stored(config, db)
    path = make_url(config.database_url).database
    locked = threading.Event()

    def hold_the_lock():
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        locked.set()
        time.sleep(1.5)
        other.execute("COMMIT")
        other.close()

    def on_call(n, batch):
        if n == 2:  # batch 2 is with the backend; its answer meets a locked database
            threading.Thread(target=hold_the_lock).start()
            locked.wait(5)

    backend = Scripted(on_call=on_call)
    with caplog.at_level(logging.WARNING):
        report = deliver(config, db, edition, backend, signer=SIGNER)
    assert (report.status, report.sent, report.unknown) == ("sent", 30, 0)
    assert "database is locked" in caplog.text and "answers again" in caplog.text
    assert Counter(backend.delivered) == Counter(f"reader{i:03d}@example.com" for i in range(30))
    assert ledger.counts(db, edition.id)["sent"] == 30
    db.close()
