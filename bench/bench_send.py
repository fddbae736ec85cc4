"""Delivery at scale: subscribers from the database to a SendGrid-like server on loopback.

    .venv/bin/python bench/bench_send.py [--subscribers 100000] [--naive 200]
    .venv/bin/python bench/bench_send.py --subscribers 1000000 --naive 0
    .venv/bin/python bench/bench_send.py --naive 0 --database-url postgresql+psycopg://u:p@host/db

Measures, in one run:
- the send of the sample edition to N subscribers held in a SQLite file (or in the EMPTY
  database given by --database-url, e.g. PostgreSQL: tables are created, filled and left there),
  through the real ``sendgrid`` library to tests/delivery/sendgrid_server.py running in ANOTHER
  process (so this process's time and memory are the sender's alone): wall time, requests,
  deliveries;
- the sender's peak memory (ru_maxrss of this process; the import runs in a child process);
- the naive path for comparison, on a sample: a full render and one API request per subscriber.

Targets (issue 3): 100,000 in <= 10 s and exactly 100 requests; 1,000,000 in <= 300 MB with time
linear in N.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.config import load_config  # noqa: E402
from digest.delivery.loop import RecipientFactory, deliver, make_job  # noqa: E402
from digest.delivery.sendgrid import SendGridBackend  # noqa: E402
from digest.edition.build import edition_for_send  # noqa: E402
from digest.render import naive_render  # noqa: E402
from digest.store.db import open_database  # noqa: E402
from digest.tokens import TokenSigner  # noqa: E402

NOW = datetime.fromisoformat("2025-07-01T08:00:00+01:00")
KEY = "SG.bench-key"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--naive", type=int, default=200, help="subscribers for the naive path")
    parser.add_argument("--database-url", default=None,
                        help="an empty database to use instead of a temporary SQLite file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        tmp = Path(tmp)
        cfg = tmp / "digest.toml"
        cfg.write_text((ROOT / "digest.toml").read_text(encoding="utf-8").replace(
            'path = "samples/homepage-fr.txt"', f'path = "{ROOT / "samples/homepage-fr.txt"}"'
        ).replace('url = "sqlite:///var/digest.db"',
                  f'url = "{args.database_url or "sqlite:///bench.db"}"'),
            encoding="utf-8")
        csv = tmp / "list.csv"
        with open(csv, "w", encoding="utf-8") as fh:
            fh.write("email,name\n")
            for i in range(args.subscribers):
                fh.write(f"reader{i:07d}@example.com,Lecteur {i}\n")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "digest", "subscribers", "import", str(csv),
                        "--list", "matinale", "--config", str(cfg)], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
        import_s = time.perf_counter() - t0

        server = subprocess.Popen(
            [sys.executable, str(ROOT / "tests/delivery/sendgrid_server.py"), KEY],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        url = server.stdout.readline().strip()
        try:
            env = {"SENDGRID_API_HOST": url, "SENDGRID_API_KEY": KEY}
            config = load_config(cfg, env=env)
            db = open_database(config.database_url)
            t0 = time.perf_counter()
            stored, _ = edition_for_send(config, db, list_name="matinale", now=NOW)
            build_s = time.perf_counter() - t0
            signer = TokenSigner("bench-secret-" + "x" * 32)
            rss_before = _rss_mb()
            t0 = time.perf_counter()
            report = deliver(config, db, stored, SendGridBackend(config.sendgrid), signer=signer)
            send_s = time.perf_counter() - t0
            stats = json.load(urllib.request.urlopen(f"{url}/_stats"))
            peak = _rss_mb()
            naive_us = _naive(config, stored, signer, url, args.naive) if args.naive else None
        finally:
            server.stdin.close()
            server.wait(10)

    n = args.subscribers
    backend = args.database_url.split(":", 1)[0] if args.database_url else "sqlite"
    print(f"database: {backend}")
    print(f"subscribers: {n:,} (import in a child process: {import_s:.1f} s)")
    print(f"build + store edition: {build_s * 1000:.0f} ms")
    print(f"send: {send_s:.2f} s wall, {n / send_s:,.0f} subscribers/s, "
          f"{send_s / n * 1e6:.1f} us/subscriber  [target 100k <= 10 s]")
    print(f"requests: {stats['attempts']} (sent {report.sent:,}, delivered {stats['delivered']:,},"
          f" unique {stats['unique']:,}, violations {stats['violations']})  "
          f"[target: N/1000 requests, every address once]")
    print(f"sender peak RSS: {peak:.0f} MB (before the send: {rss_before:.0f} MB)  "
          f"[target 1M <= 300 MB]")
    if naive_us:
        batched_us = send_s / n * 1e6
        print(f"naive path (full render + 1 request per subscriber): {naive_us:,.0f} us/subscriber"
              f" over {args.naive}; ratio naive / batched: {naive_us / batched_us:,.0f}x")


def _naive(config, stored, signer, url, count) -> float:
    """A full render and one API request per subscriber, as a first version might do it."""
    from sendgrid import SendGridAPIClient

    job = make_job(config, stored.edition, stored.rendered)
    make = RecipientFactory(config, job, signer)
    client = SendGridAPIClient(KEY, host=url)
    client.client.timeout = 30
    title = config.list_config("matinale").title
    from digest.models import Subscriber

    t0 = time.perf_counter()
    for i in range(count):
        recipient = make(Subscriber(id=10_000_000 + i, email=f"naive{i}@example.com",
                                    name=f"Lecteur {i}"))
        html, text = naive_render(stored.edition, config, title, recipient.values)
        client.send({
            "from": {"email": config.sender.email, "name": config.sender.name},
            "subject": stored.edition.subject,
            "personalizations": [{"to": [{"email": recipient.subscriber.email}]}],
            "content": [{"type": "text/plain", "value": text},
                        {"type": "text/html", "value": html}],
        })
    return (time.perf_counter() - t0) / count * 1e6


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
