"""The ledger's statements alone: fill, claim, record, for N subscribers, as a send runs them.

    .venv/bin/python bench/bench_ledger.py [--subscribers 100000] [--rounds 2] \\
        [--database sqlite] [--database postgresql+psycopg://u:p@host/db]

For each database (a temporary SQLite file; a PostgreSQL URL names a server on which a NEW
database is made for the run and dropped after it): the list imported in a child process, then
per round (a new edition, a new day) the ledger filled under a worker's lease, every batch of
1,000 claimed with the previous batch's answers recorded in the same transaction (as the send
loop does), the last answers recorded, and the lease left. Nothing is sent: what is printed is
the database's share of a send (wall and this process's CPU), and on PostgreSQL how many of
the row updates were HOT (no new index entries).

Each batch goes through the ledger as a send's does (digest/delivery/ahead.py): read by
``claims.peek`` (the rows, their members and suppressions; nothing marked), then claimed by id
by ``claims.claim_read`` with the previous batch's answers, in one transaction that also reads
the edition's stop request. The two are timed apart.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_send import NOW, scratch_database  # noqa: E402
from digest.config import load_config  # noqa: E402
from digest.edition.build import edition_for_send  # noqa: E402
from digest.store import claims, ledger, workers  # noqa: E402
from digest.store.db import open_database  # noqa: E402
from digest.store.editions import new_owner  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database", action="append", default=None)
    args = parser.parse_args()
    for target in args.database or ["sqlite"]:
        with tempfile.TemporaryDirectory(prefix="digest-bench-ledger-") as tmp:
            with scratch_database(target) as url:
                _run(Path(tmp), url, args)


def _run(tmp: Path, url: str, args) -> None:
    import subprocess

    cfg = tmp / "digest.toml"
    cfg.write_text(
        (ROOT / "digest.toml")
        .read_text(encoding="utf-8")
        .replace('path = "samples/homepage-fr.txt"', f'path = "{ROOT / "samples/homepage-fr.txt"}"')
        .replace('templates_dir = "templates"', f'templates_dir = "{ROOT / "templates"}"')
        .replace('url = "sqlite:///var/digest.db"', f'url = "{url}"'),
        encoding="utf-8",
    )
    csv = tmp / "list.csv"
    with open(csv, "w", encoding="utf-8") as fh:
        fh.write("email,name\n")
        for i in range(args.subscribers):
            fh.write(f"reader{i:07d}@example.com,Lecteur {i}\n")
    subprocess.run(
        [sys.executable, "-m", "digest", "subscribers", "import", str(csv), "--list", "matinale"]
        + ["--config", str(cfg)],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    config = load_config(cfg, env={})
    db = open_database(config.database_url)
    print(f"database: {db.dialect}, {args.subscribers:,} subscribers")
    for day in range(args.rounds):
        stored, _ = edition_for_send(
            config, db, list_name="matinale", now=NOW + timedelta(days=day)
        )
        owner = new_owner()
        c0, t0 = time.process_time(), time.perf_counter()
        workers.join(
            db,
            stored.id,
            owner,
            backend="sendgrid",
            lease_seconds=90,
            on_first=lambda conn, _prev, s=stored: ledger.populate_rows(
                conn, s.id, s.list_id, empty=not ledger.has_rows(conn, s.id)
            ),
        )
        fill = time.perf_counter() - t0
        after, answers, batches, reads, takes = 0, [], 0, 0.0, 0.0
        while True:
            r0 = time.perf_counter()
            seen = claims.peek(db, stored.id, stored.list_id, after=after, limit=1000)
            r1 = time.perf_counter()
            reads += r1 - r0
            if seen.last_id is None:
                break
            batch = claims.claim_read(db, stored.id, seen, owner=owner, answers=answers)
            takes += time.perf_counter() - r1
            after, batches = batch.last_id, batches + 1
            answers = [
                (c.delivery_id, "sent", "<bench.message-id@example.com>") for c in batch.claimed
            ]
        r0 = time.perf_counter()
        ledger.record(db, answers, edition_id=stored.id, owner=owner)
        takes += time.perf_counter() - r0
        workers.leave(db, stored.id, owner, status="sent")
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert ledger.counts(db, stored.id)["sent"] == args.subscribers
        print(
            f"  day {day}: fill {fill:.2f} s; {batches} batches: reads {reads:.2f} s "
            f"({reads / batches * 1000:.1f} ms each), claims with the answers {takes:.2f} s "
            f"({takes / batches * 1000:.1f} ms each); in all {wall:.2f} s wall, "
            f"{cpu:.2f} s CPU here"
        )
    if db.dialect == "postgresql":
        from sqlalchemy import text

        with db.read() as conn:
            upd, hot = conn.execute(
                text(
                    "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
                    "WHERE relname = 'deliveries'"
                )
            ).one()
        print(f"  row updates: {upd:,}, of which HOT (no new index entries): {hot:,}")
    db.close()


if __name__ == "__main__":
    main()
