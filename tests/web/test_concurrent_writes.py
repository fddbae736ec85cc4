"""The web app's writes beside a sender's: one-click unsubscribes posted to the real server
while another process holds a write transaction open (as a send's claim or record does)."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.delivery.test_send_loop import subscribe
from tests.web.server import running
from tests.web.test_subscribers import ONE_CLICK, SIGNER, member

ROOT = Path(__file__).resolve().parents[2]

# Another process: opens the database as digest does, writes in one transaction, says so, and
# keeps the transaction open until told to commit (a line on stdin).
HOLDER = """
import sys
from sqlalchemy import text
from digest.store.db import open_database

with open_database(sys.argv[1]) as db:
    with db.write() as conn:
        conn.execute(text(
            "INSERT INTO suppressions (email_key, reason, source, created_at) "
            "VALUES ('sender@example.com', 'bounce', 'holder', CURRENT_TIMESTAMP)"
        ))
        print("holding", flush=True)
        sys.stdin.readline()
print("committed", flush=True)
"""


def test_unsubscribes_posted_during_a_senders_write_all_succeed_and_are_recorded(
    app, web_config, web_db
):
    """Twenty at once, while the other process's write is open: on SQLite they wait for its
    write lock (none is answered before it commits, and none fails with "database is
    locked"); on PostgreSQL they do not wait for it at all. Every one answers 200 and is
    recorded."""
    subscribe(web_db, 20)
    people = [member(web_db, f"reader{i:03d}@example.com") for i in range(20)]
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, web_config.database_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        answers: dict[int, int] = {}
        with running(app) as url:

            def post(sid: int) -> None:
                token = SIGNER.make(sid, "matinale")
                with httpx.Client(base_url=url, timeout=60) as http:
                    answers[sid] = http.post(f"/digest/u/{token}", data=ONE_CLICK).status_code

            threads = [threading.Thread(target=post, args=(p.id,)) for p in people]
            for th in threads:
                th.start()
            if web_db.dialect == "sqlite":
                time.sleep(0.5)  # time for the posts to arrive; they cannot finish yet
                assert answers == {}
                assert all(member(web_db, p.email).status == "active" for p in people)
            else:  # row locks: the open write holds nobody's membership
                for th in threads:
                    th.join(30)
                assert len(answers) == 20
            holder.stdin.write("\n")
            holder.stdin.flush()
            for th in threads:
                th.join(60)
        assert holder.stdout.readline().strip() == "committed"
        assert answers == {p.id: 200 for p in people}
        assert all(member(web_db, p.email).status == "unsubscribed" for p in people)
    finally:
        holder.stdin.close()
        holder.wait(10)
