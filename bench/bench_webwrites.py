"""The web app's writes during a send: one-click unsubscribes while `digest send` runs.

    .venv/bin/python bench/bench_webwrites.py [--subscribers 50000] [--clients 20] [--rounds 3]
    .venv/bin/python bench/bench_webwrites.py --pause 0      # each client as fast as answered
    .venv/bin/python bench/bench_webwrites.py --database postgresql+psycopg://u:p@host/db

Measures, in one run, on one database (default: a temporary SQLite file; a PostgreSQL URL names
a server on which a NEW database is made for the run and dropped after it, as
bench/bench_send.py does):
- a real `digest send` (child process) of the list's N subscribers through the SendGrid path
  to tests/delivery/sendgrid_server.py (another process), alone: the baseline;
- the same send while ``--clients`` threads of this process POST RFC 8058 one-click
  unsubscribes (``List-Unsubscribe=One-Click``, valid signed tokens, a new connection each,
  as mail providers post them; each waits ``--pause`` seconds between its posts) to the real
  web app, `digest serve` (uvicorn) in a third process, from the send's start to its end.
  Each is for another subscriber, from a second list the same people are on: the same
  write, and every round's send has the same work;
- the same clients against the web app with no send running, for the web app's own figures.
Rounds are interleaved (alone, loaded; a new edition, a new day, each send), stored before
the clock starts; the send's time is the `digest send` process's, start to exit (ledger fill
included). Every send is checked: every subscriber sent to exactly once, and every
unsubscribe answered 200 is recorded in the database.

Ends with one line ``unsubscribe p99 during the send: N ms; send slowed N.NNx``. Targets
(issue 12): p99 under 150 ms during a 50k send on SQLite, the send slowed less than 1.3x.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_send import import_list, scratch_database, write_config  # noqa: E402
from digest.config import load_config  # noqa: E402
from digest.edition.build import edition_for_send  # noqa: E402
from digest.store import ledger  # noqa: E402
from digest.store.db import open_database  # noqa: E402
from digest.tokens import TokenSigner  # noqa: E402

NOW = datetime.fromisoformat("2025-07-01T08:00:00+01:00")
KEY = "SG.bench-key"
SECRET = "bench-secret-" + "x" * 32
BODY = b"List-Unsubscribe=One-Click"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=50_000)
    parser.add_argument("--clients", type=int, default=20, help="concurrent unsubscribing clients")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians)")
    parser.add_argument(
        "--pause",
        type=float,
        default=0.1,
        help="seconds each client waits between its posts; 0: as fast as answered, which "
        "saturates the web app, so that on a small machine the send competes with it for CPU",
    )
    parser.add_argument(
        "--database",
        default="sqlite",
        help="'sqlite' (a temporary file) or a PostgreSQL server URL (a new database is made)",
    )
    args = parser.parse_args()

    sendgrid = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/delivery/sendgrid_server.py"), KEY],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    api = sendgrid.stdout.readline().strip()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="digest-bench-web-") as tmp,
            scratch_database(args.database) as db_url,
        ):
            res = _run(args, Path(tmp), db_url, api)
    finally:
        sendgrid.stdin.close()
        sendgrid.wait(10)
    _report(args, res)


def _run(args, tmp: Path, db_url: str, api: str) -> dict:
    cfg = write_config(tmp, db_url)
    # The clients unsubscribe the same people from a second list: the same write on the same
    # tables, while the send's audience (and so its work) stays the same in every round.
    with open(cfg, "a", encoding="utf-8") as fh:
        fh.write('\n[lists.hebdo]\ntitle = "L\'hebdo"\n')
    import_s = import_list(cfg, tmp, args.subscribers)
    import_s += import_list(cfg, tmp, args.subscribers, "hebdo")
    env = {
        **os.environ,
        "SENDGRID_API_HOST": api,
        "SENDGRID_API_KEY": KEY,
        "DIGEST_SECRET_KEY": SECRET,
        "PYTHONPATH": str(ROOT),  # the child processes run this tree's code, wherever they start
    }
    config = load_config(cfg, env=env)
    db = open_database(config.database_url)
    with db.read() as conn:
        ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM subscribers ORDER BY id")]
    random.Random(12).shuffle(ids)
    signer = TokenSigner(SECRET)
    targets = iter([(sid, signer.make(sid, "hebdo")) for sid in ids])
    web, base = _start_web(cfg, tmp, env)
    res: dict = {"import_s": import_s, "alone": [], "loaded": [], "during": [], "errors": []}
    try:
        res["idle"], idle_done = _clients(args, base, targets, seconds=3.0)
        unsubscribed = set(idle_done)
        day = 0
        for _round in range(args.rounds):
            for kind in ("alone", "loaded"):
                stored, _ = edition_for_send(
                    config, db, list_name="matinale", now=NOW + timedelta(days=day)
                )
                send = _start_send(cfg, tmp, env, NOW + timedelta(days=day))
                day += 1
                before = _stats(api)
                t0 = time.perf_counter()
                if kind == "loaded":
                    lat, done = _clients(args, base, targets, until=send)
                    res["during"] += lat
                    unsubscribed.update(done)
                err = send.communicate()[1]
                res[kind].append(time.perf_counter() - t0)
                if send.returncode:
                    raise SystemExit(f"digest send failed: {err}")
                _check(
                    db, stored.id, args.subscribers, _stats(api)["delivered"] - before["delivered"]
                )
        with db.read() as conn:
            left = conn.exec_driver_sql(
                "SELECT COUNT(*) FROM memberships WHERE status = 'unsubscribed'"
            ).scalar()
        if left != len(unsubscribed):
            raise SystemExit(f"{len(unsubscribed)} unsubscribes answered 200, {left} recorded")
        res["unsubscribed"] = left
    finally:
        web.terminate()
        web.wait(10)
        db.close()
    res["backend"] = db_url.split(":", 1)[0].split("+")[0]
    return res


def _start_web(cfg: Path, tmp: Path, env: dict) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "digest", "--config", str(cfg), "serve", "--port", str(port)],
        cwd=tmp,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/digest"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{base}/archive", timeout=2).read()
            return proc, base
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("the web app did not start") from None
            time.sleep(0.2)


def _start_send(cfg: Path, tmp: Path, env: dict, now: datetime) -> subprocess.Popen:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "digest", "send", "--list", "matinale"),
            *("--backend", "sendgrid", "--now", now.isoformat()),
            *("--config", str(cfg), "--out", str(tmp / "out")),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _clients(args, base: str, targets, *, seconds: float = 0.0, until=None):
    """``args.clients`` threads posting one-click unsubscribes, each for the next subscriber,
    for ``seconds`` or until the process ``until`` exits. Returns (latencies in seconds,
    subscriber ids answered 200); any other answer stops the bench."""
    host, port = base.removeprefix("http://").split("/", 1)[0].split(":")
    path = "/" + base.removeprefix("http://").split("/", 1)[1]
    stop = threading.Event()
    lock = threading.Lock()
    latencies: list[float] = []
    done: list[int] = []
    errors: list[str] = []

    def client() -> None:
        while not stop.is_set():
            with lock:
                sid, token = next(targets)
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            t0 = time.perf_counter()
            try:
                conn.request(
                    "POST",
                    f"{path}/u/{token}",
                    body=BODY,
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
                response = conn.getresponse()
                response.read()
            except OSError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                stop.set()
                return
            finally:
                conn.close()
            elapsed = time.perf_counter() - t0
            if response.status != 200:
                errors.append(f"answered {response.status}")
                stop.set()
                return
            with lock:
                latencies.append(elapsed)
                done.append(sid)
            if args.pause:
                stop.wait(args.pause)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
    for th in threads:
        th.start()
    if until is not None:
        until.wait()
    else:
        time.sleep(seconds)
    stop.set()
    for th in threads:
        th.join(60)
    if errors:
        raise SystemExit(f"an unsubscribe failed: {errors[0]} ({len(errors)} failures)")
    return latencies, done


def _check(db, edition_id: str, n: int, delivered: int) -> None:
    counts = ledger.counts(db, edition_id)
    if counts["sent"] != n or delivered != n:
        raise SystemExit(f"not everyone exactly once: {counts}, {delivered} delivered")


def _stats(api: str) -> dict:
    return json.load(urllib.request.urlopen(f"{api}/_stats"))


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def _report(args, res: dict) -> None:
    alone, loaded, during, idle = res["alone"], res["loaded"], res["during"], res["idle"]
    print(f"database: {res['backend']}")
    print(f"subscribers: {args.subscribers:,} (import in a child process: {res['import_s']:.1f} s)")
    print(
        f"web app alone: {len(idle)} unsubscribes in 3 s from {args.clients} clients, "
        f"p50 {_pct(idle, 0.5):.0f} ms, p99 {_pct(idle, 0.99):.0f} ms"
    )
    print(
        f"during the sends: {len(during)} unsubscribes, p50 {_pct(during, 0.5):.0f} ms, "
        f"p99 {_pct(during, 0.99):.0f} ms, max {max(during) * 1000:.0f} ms; "
        f"{res['unsubscribed']} recorded in all"
    )
    ratio = statistics.median(loaded) / statistics.median(alone)
    print(
        f"send alone: {statistics.median(alone):.2f} s (median of "
        f"{', '.join(f'{w:.2f}' for w in alone)}); with the unsubscribes: "
        f"{statistics.median(loaded):.2f} s ({', '.join(f'{w:.2f}' for w in loaded)}); "
        f"ratio {ratio:.2f}x"
    )
    print(
        f"unsubscribe p99 during the send: {_pct(during, 0.99):.0f} ms; send slowed {ratio:.2f}x"
        "  [target: < 150 ms, < 1.3x]"
    )


if __name__ == "__main__":
    main()
