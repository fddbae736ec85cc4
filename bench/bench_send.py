"""Delivery at scale: subscribers from the database to a SendGrid-like server on loopback.

    .venv/bin/python bench/bench_send.py [--subscribers 100000] [--rounds 3] [--naive 200]
    .venv/bin/python bench/bench_send.py --subscribers 1000000 --rounds 1 --naive 0
    .venv/bin/python bench/bench_send.py --naive 0 --database sqlite \\
        --database postgresql+psycopg://u:p@host/db

Measures, in one run, for each database (default: a temporary SQLite file; a PostgreSQL URL
names a server on which a NEW database is created for the run and dropped after it):
- the send of the sample edition to N subscribers through the real ``sendgrid`` library to
  tests/delivery/sendgrid_server.py running in ANOTHER process (so this process's time, CPU and
  memory are the sender's alone): wall time, sender CPU, requests, deliveries;
- the floor (bench/floor.py): the same mail over one keep-alive connection with the ledger in
  one statement, and its crash-safe variant (each batch committed 'sending' first);
- rounds interleaved (project, floor, crash-safe floor; a new edition, a new day, for each
  send), medians reported; the first round's send is also reported alone: on a new database
  it is the "first send", with no planner statistics but those the fill gave;
- the sender's peak memory (ru_maxrss of this process; the imports run in child processes);
- the naive path for comparison, on a sample: a full render and one API request per subscriber.

Ends with one line ``ratio to the floor: N.NNx`` (the first database's median send over its
median floor). Targets (issue 3, issue 12): 100,000 in <= 10 s and exactly 100 requests;
1,000,000 in <= 300 MB with time linear in N; the SendGrid path within 1.4x of the floor;
PostgreSQL within 1.5x of SQLite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.floor import floor_send  # noqa: E402
from digest.config import load_config  # noqa: E402
from digest.delivery.job import RecipientFactory, make_job  # noqa: E402
from digest.delivery.loop import deliver  # noqa: E402
from digest.delivery.sendgrid import SendGridBackend  # noqa: E402
from digest.edition.build import edition_for_send  # noqa: E402
from digest.render import naive_render  # noqa: E402
from digest.store.db import open_database  # noqa: E402
from digest.tokens import TokenSigner  # noqa: E402

NOW = datetime.fromisoformat("2025-07-01T08:00:00+01:00")
KEY = "SG.bench-key"
KINDS = ("project", "floor", "floor, crash-safe")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians)")
    parser.add_argument("--naive", type=int, default=200, help="subscribers for the naive path")
    parser.add_argument(
        "--database",
        action="append",
        default=None,
        help="'sqlite' (a temporary file), or a PostgreSQL server URL on which "
        "a new database is made for the run; may be given several times",
    )
    parser.add_argument(
        "--without-analyze",
        action="store_true",
        help="for each PostgreSQL server, also a run on another new database "
        "with the ANALYZE after the ledger fill skipped (its effect)",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="an EMPTY database to use as it is (tables are created and left)",
    )
    args = parser.parse_args()
    targets = list(args.database or [])
    if args.database_url:
        targets.append("as-is:" + args.database_url)
    targets = targets or ["sqlite"]
    if args.without_analyze:
        targets += ["no-analyze:" + t for t in targets if t.startswith("postgresql")]

    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/delivery/sendgrid_server.py"), KEY],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    url = server.stdout.readline().strip()
    results = []
    try:
        for target in targets:
            with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
                plain = target.removeprefix("no-analyze:")
                with scratch_database(plain) as db_url, _analyze(plain == target):
                    res = _run_one(args, Path(tmp), db_url, url)
                    if plain != target:
                        res["backend"] += " (no ANALYZE after the fill)"
                    results.append(res)
    finally:
        server.stdin.close()
        server.wait(10)

    n = args.subscribers
    for res in results:
        print(f"\ndatabase: {res['backend']}")
        print(f"subscribers: {n:,} (import in a child process: {res['import_s']:.1f} s)")
        print(f"build + store edition: {res['build_s'] * 1000:.0f} ms")
        walls = res["wall"]
        for kind in KINDS:
            med = statistics.median(walls[kind])
            cpu = statistics.median(res["cpu"][kind])
            print(
                f"{kind:>18}: {med:6.2f} s wall (median of {len(walls[kind])}: "
                f"{', '.join(f'{w:.2f}' for w in walls[kind])}), {cpu:.2f} s sender CPU, "
                f"{med / n * 1e6:.1f} us/subscriber"
            )
        print(f"first send on this database: {walls['project'][0]:.2f} s")
        print(
            f"requests per send: {res['requests']} (delivered {res['delivered']:,} in all, "
            f"violations {res['violations']})  [target: N/1000 requests]"
        )
        print(f"sender peak RSS: {res['peak']:.0f} MB  [target 1M <= 300 MB]")
        if res["naive_us"]:
            batched_us = statistics.median(walls["project"]) / n * 1e6
            print(
                f"naive path (full render + 1 request per subscriber): "
                f"{res['naive_us']:,.0f} us/subscriber over {args.naive}; "
                f"ratio naive / batched: {res['naive_us'] / batched_us:,.0f}x"
            )
        ratio = statistics.median(walls["project"]) / statistics.median(walls["floor"])
        safe = statistics.median(walls["project"]) / statistics.median(walls["floor, crash-safe"])
        cpu_ratio = statistics.median(res["cpu"]["project"]) / statistics.median(
            res["cpu"]["floor"]
        )
        print(
            f"{res['backend']}: project / floor {ratio:.2f}x wall ({cpu_ratio:.2f}x CPU), "
            f"project / crash-safe floor {safe:.2f}x"
        )
    if len(results) > 1:
        base = results[0]
        for res in results[1:]:
            first = res["wall"]["project"][0] / base["wall"]["project"][0]
            med = statistics.median(res["wall"]["project"]) / statistics.median(
                base["wall"]["project"]
            )
            print(
                f"{res['backend']} / {base['backend']}: first send {first:.2f}x, "
                f"median send {med:.2f}x  [target <= 1.5x]"
            )
    first = results[0]
    print(first["request"])
    print(
        f"ratio to the floor: "
        f"{statistics.median(first['wall']['project']) / statistics.median(first['wall']['floor']):.2f}x"
    )


@contextlib.contextmanager
def _analyze(keep: bool):
    """With ``keep`` False, the ledger fill's ANALYZE is skipped (measuring its effect)."""
    if keep:
        yield
        return
    from sqlalchemy import text

    from digest.store import ledger

    real = ledger.text
    ledger.text = lambda sql: text("SELECT 1") if sql.startswith("ANALYZE") else real(sql)
    try:
        yield
    finally:
        ledger.text = real


class scratch_database:
    """The database URL for one target: a temporary SQLite file, a new PostgreSQL database
    (dropped on exit), or a URL used as it is. (bench/bench_webwrites.py uses it too.)"""

    def __init__(self, target: str):
        self.target = target
        self.admin = None
        self.name = None

    def __enter__(self) -> str:
        if self.target == "sqlite":
            return "sqlite:///bench.db"  # relative to the run's temporary config
        if self.target.startswith("as-is:"):
            return self.target[len("as-is:") :]
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        base = make_url(self.target)
        self.admin = create_engine(base, isolation_level="AUTOCOMMIT")
        self.name = f"digest_bench_{secrets.token_hex(4)}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        return base.set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *exc) -> None:
        if self.admin is None:
            return
        from sqlalchemy import text

        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def write_config(tmp: Path, db_url: str) -> Path:
    """The sample site's digest.toml in ``tmp``, with absolute paths and ``db_url``."""
    cfg = tmp / "digest.toml"
    cfg.write_text(
        (ROOT / "digest.toml")
        .read_text(encoding="utf-8")
        .replace('path = "samples/homepage-fr.txt"', f'path = "{ROOT / "samples/homepage-fr.txt"}"')
        .replace('templates_dir = "templates"', f'templates_dir = "{ROOT / "templates"}"')
        .replace('url = "sqlite:///var/digest.db"', f'url = "{db_url}"'),
        encoding="utf-8",
    )
    return cfg


def import_list(cfg: Path, tmp: Path, n: int, list_name: str = "matinale") -> float:
    """``n`` generated subscribers into ``list_name``, by ``digest subscribers import`` in a
    child process; returns its wall time."""
    csv = tmp / "list.csv"
    with open(csv, "w", encoding="utf-8") as fh:
        fh.write("email,name\n")
        for i in range(n):
            fh.write(f"reader{i:07d}@example.com,Lecteur {i}\n")
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
            list_name,
            "--config",
            str(cfg),
        ],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0


def _run_one(args, tmp: Path, db_url: str, url: str) -> dict:
    cfg = write_config(tmp, db_url)
    import_s = import_list(cfg, tmp, args.subscribers)

    env = {"SENDGRID_API_HOST": url, "SENDGRID_API_KEY": KEY}
    config = load_config(cfg, env=env)
    db = open_database(config.database_url)
    signer = TokenSigner("bench-secret-" + "x" * 32)
    wall: dict[str, list[float]] = {k: [] for k in KINDS}
    cpu: dict[str, list[float]] = {k: [] for k in KINDS}
    before = json.load(urllib.request.urlopen(f"{url}/_stats"))
    requests = set()
    build_s = 0.0
    day = 0
    for _round in range(args.rounds):
        for kind in KINDS:
            t0 = time.perf_counter()
            stored, _ = edition_for_send(
                config, db, list_name="matinale", now=NOW + timedelta(days=day)
            )
            build_s = time.perf_counter() - t0
            day += 1
            a0 = json.load(urllib.request.urlopen(f"{url}/_stats"))["attempts"]
            t0, c0 = time.perf_counter(), time.process_time()
            if kind == "project":
                report = deliver(
                    config, db, stored, SendGridBackend(config.sendgrid), signer=signer
                )
                assert report.sent == args.subscribers, report
            else:
                floor_send(
                    config, db, stored, signer, url, KEY, crash_safe=kind.endswith("crash-safe")
                )
            wall[kind].append(time.perf_counter() - t0)
            cpu[kind].append(time.process_time() - c0)
            if kind == "project":
                requests.add(json.load(urllib.request.urlopen(f"{url}/_stats"))["attempts"] - a0)
    after = json.load(urllib.request.urlopen(f"{url}/_stats"))
    peak = _rss_mb()
    request = _request_cost(config, db, signer)
    naive_us = None
    if args.naive:
        stored, _ = edition_for_send(config, db, list_name="matinale", now=NOW)
        naive_us = _naive(config, stored, signer, url, args.naive)
    db.close()
    return {
        "backend": db_url.split(":", 1)[0].split("+")[0],
        "import_s": import_s,
        "build_s": build_s,
        "wall": wall,
        "cpu": cpu,
        "requests": ", ".join(str(r) for r in sorted(requests)),
        "delivered": after["delivered"] - before["delivered"],
        "violations": after["violations"] - before["violations"],
        "peak": peak,
        "naive_us": naive_us,
        "request": request,
    }


def _request_cost(config, db, signer) -> str:
    """One 1,000-recipient SendGrid request as the backend builds it (each value once) against
    the same request with every token filled separately (as before issue 12), and what the
    library's debug message would cost to format it (it is skipped: JsonBody)."""
    import dataclasses

    from digest.delivery.sendgrid import build_request
    from digest.models import Subscriber

    stored, _ = edition_for_send(config, db, list_name="matinale", now=NOW)
    job = make_job(config, stored.edition, stored.rendered)
    make = RecipientFactory(config, job, signer)
    batch = [
        dataclasses.replace(
            make(Subscriber(id=i + 1, email=f"reader{i:07d}@example.com", name=f"Lecteur {i}")),
            delivery_id=i + 1,
        )
        for i in range(1000)
    ]
    backend = SendGridBackend(dataclasses.replace(config.sendgrid, api_key=KEY))
    times = []
    for _ in range(9):  # as the sender prepares it (its substitutions made once per send)
        c0 = time.process_time()
        data = backend.prepare(job, batch).data.encode()
        times.append(time.process_time() - c0)
    body, _ = build_request(job, batch, config.sendgrid)
    for p, r in zip(body["personalizations"], batch, strict=True):
        p["substitutions"] = job.personalizer.substitutions(r.values)
    body["content"] = [
        {"type": "text/plain", "value": job.rendered.text},
        {"type": "text/html", "value": job.rendered.html},
    ]
    before = json.dumps(body).encode()  # the library's own json.dumps
    c0 = time.process_time()
    for _ in range(9):
        f"PAYLOAD: {before}"  # what python_http_client formats on every request
    fmt = (time.process_time() - c0) / 9
    return (
        f"one 1,000-recipient request: built and serialized in "
        f"{statistics.median(times) * 1000:.1f} ms CPU, {len(data):,} bytes (each value "
        f"once; every token filled apart: {len(before):,} bytes); the library's debug "
        f"message, skipped, would cost {fmt * 1000:.1f} ms to format"
    )


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
        recipient = make(
            Subscriber(id=10_000_000 + i, email=f"naive{i}@example.com", name=f"Lecteur {i}")
        )
        html, text = naive_render(stored.edition, config, title, recipient.values)
        client.send(
            {
                "from": {"email": config.sender.email, "name": config.sender.name},
                "subject": stored.edition.subject,
                "personalizations": [{"to": [{"email": recipient.subscriber.email}]}],
                "content": [
                    {"type": "text/plain", "value": text},
                    {"type": "text/html", "value": html},
                ],
            }
        )
    return (time.perf_counter() - t0) / count * 1e6


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
