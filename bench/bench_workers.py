"""Several senders on one edition: 1 and 2 `digest send` workers on PostgreSQL, and 1 on SQLite.

    .venv/bin/python bench/bench_workers.py --postgres-url "$(bash .ci/postgres.sh)"
    .venv/bin/python bench/bench_workers.py --postgres-url URL --subscribers 200000 --latency 0

Measures, in one run, with the same N subscribers on each database:
- SQLite, one worker (the only kind SQLite allows);
- PostgreSQL, one worker;
- PostgreSQL, two workers started together with --join (each claims its own batches with
  FOR UPDATE SKIP LOCKED).
Each worker is a real `digest send` process; the SendGrid-like server (tests/delivery/
sendgrid_server.py) runs in another process and holds each accepted request ``--latency``
seconds before answering, as a provider's round trip would (0.3 s by default: a 600 KB request
of 1,000 personalizations; at 0.05 s this 2-core machine is CPU-bound, sender, PostgreSQL and
the provider's stand-in together, and a second worker has no idle core to use). The edition is built and stored before the clock starts; the time is from the first
worker's start to the last one's exit (ledger population included). Every run is checked:
every row sent, and exactly N deliveries (a row posted twice would make N + 1).

Targets (issue 11): two PostgreSQL workers >= 1.6x one; one PostgreSQL worker no slower than
1.5x SQLite. The PostgreSQL URL names a server (its database is used to create and drop a
database of the bench's own, ``digest_bench_workers``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import make_url  # noqa: E402

from digest.config import load_config  # noqa: E402
from digest.edition.build import edition_for_send  # noqa: E402
from digest.store import ledger  # noqa: E402
from digest.store.db import open_database  # noqa: E402

NOW = datetime.fromisoformat("2025-07-01T08:00:00+01:00")
KEY = "SG.bench-key"
BENCH_DB = "digest_bench_workers"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--postgres-url", required=True, help="a PostgreSQL server to use")
    parser.add_argument(
        "--latency",
        type=float,
        default=0.3,
        help="seconds the provider takes to answer each request",
    )
    args = parser.parse_args()
    pg_url = _fresh_postgres(args.postgres_url)
    with tempfile.TemporaryDirectory(prefix="digest-bench-workers-") as tmp:
        tmp = Path(tmp)
        csv = tmp / "list.csv"
        with open(csv, "w", encoding="utf-8") as fh:
            fh.write("email,name\n")
            for i in range(args.subscribers):
                fh.write(f"reader{i:07d}@example.com,Lecteur {i}\n")
        server = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "tests/delivery/sendgrid_server.py"),
                KEY,
                str(args.latency),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        url = server.stdout.readline().strip()
        try:
            sqlite_cfg = _config(tmp / "sqlite", "sqlite:///bench.db")
            pg_cfg = _config(tmp / "pg", pg_url)
            for cfg in (sqlite_cfg, pg_cfg):
                t0 = time.perf_counter()
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "digest",
                        "subscribers",
                        "import",
                        str(csv),
                        "--list",
                        "matinale",
                        "--config",
                        str(cfg),
                    ],
                    check=True,
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                )
                print(
                    f"import into {cfg.parent.name}: {time.perf_counter() - t0:.0f} s", flush=True
                )
            runs = [
                ("sqlite, 1 worker", sqlite_cfg, NOW, 1),
                ("postgresql, 1 worker", pg_cfg, NOW, 1),
                ("postgresql, 2 workers", pg_cfg, NOW + timedelta(days=1), 2),
            ]
            seconds = {}
            for name, cfg, now, n in runs:
                seconds[name] = _run(cfg, now, n, url, args.subscribers)
                print(
                    f"{name}: {seconds[name]:.1f} s, "
                    f"{args.subscribers / seconds[name]:,.0f} subscribers/s",
                    flush=True,
                )
        finally:
            server.stdin.close()
            server.wait(10)
    one, two = seconds["postgresql, 1 worker"], seconds["postgresql, 2 workers"]
    lite = seconds["sqlite, 1 worker"]
    print(f"subscribers: {args.subscribers:,}; provider latency {args.latency:g} s per request")
    print(f"2 PostgreSQL workers vs 1: {one / two:.2f}x faster  [target >= 1.6x]")
    print(f"1 PostgreSQL worker vs SQLite: {one / lite:.2f}x the time  [target <= 1.5x]")


def _config(folder: Path, database_url: str) -> Path:
    folder.mkdir()
    cfg = folder / "digest.toml"
    cfg.write_text(
        (ROOT / "digest.toml")
        .read_text(encoding="utf-8")
        .replace('path = "samples/homepage-fr.txt"', f'path = "{ROOT / "samples/homepage-fr.txt"}"')
        .replace('templates_dir = "templates"', f'templates_dir = "{ROOT / "templates"}"')
        .replace('url = "sqlite:///var/digest.db"', f'url = "{database_url}"'),
        encoding="utf-8",
    )
    return cfg


def _run(cfg: Path, now: datetime, workers: int, url: str, n: int) -> float:
    env = {
        **os.environ,
        "SENDGRID_API_HOST": url,
        "SENDGRID_API_KEY": KEY,
        "DIGEST_SECRET_KEY": "bench-secret-" + "x" * 32,
    }
    config = load_config(cfg, env=env)
    with open_database(config.database_url) as db:
        stored, _ = edition_for_send(config, db, list_name="matinale", now=now)
    before = _stats(url)
    command = [
        sys.executable,
        "-m",
        "digest",
        "send",
        "--list",
        "matinale",
        "--backend",
        "sendgrid",
        "--now",
        now.isoformat(),
        "--config",
        str(cfg),
        "--out",
        str(cfg.parent / "out"),
    ]
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            command + (["--join"] if workers > 1 else []),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    errors = [p.communicate()[1] for p in procs]
    elapsed = time.perf_counter() - t0
    if any(p.returncode for p in procs):
        raise SystemExit(f"a worker failed: {errors}")
    after = _stats(url)
    with open_database(config.database_url) as db:
        counts = ledger.counts(db, stored.id)
    delivered = after["delivered"] - before["delivered"]
    if counts["sent"] != n or delivered != n:  # a row sent twice would deliver n + 1
        raise SystemExit(f"not everyone exactly once: {counts}, {delivered} delivered")
    return elapsed


def _stats(url: str) -> dict:
    return json.load(urllib.request.urlopen(f"{url}/_stats"))


def _fresh_postgres(server_url: str) -> str:
    import psycopg

    u = make_url(server_url)
    with psycopg.connect(
        host=u.host,
        port=u.port,
        user=u.username,
        password=u.password,
        dbname=u.database,
        autocommit=True,
    ) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{BENCH_DB}"')
    return u.set(database=BENCH_DB).render_as_string(hide_password=False)


if __name__ == "__main__":
    main()
