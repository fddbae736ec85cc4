"""SMTP delivery throughput: the sample edition through SmtpBackend to a loopback aiosmtpd.

    .venv/bin/python bench/bench_smtp.py [--messages 5000] [--fresh 300] [--in-process]
                                         [--security none|starttls|tls] [--connections 4]

Sends N messages (one per subscriber, each with its own greeting, links and Message-ID) in
batches of ``SmtpBackend.max_batch`` over one reused connection, and reports:

- messages/s end to end, and how many connections the server saw;
- the per-message cost split, each part timed alone: personalization + MIME
  (``SmtpBackend.message_bytes`` on the same messages) and the SMTP transaction (MAIL, RCPT,
  DATA with a message built beforehand); end to end costs less than their sum because the
  backend builds the next message while the server digests the last. Also what the same MIME
  costs built in full by ``build_message`` (the path the per-job template avoids);
- the same with a new connection per message (connect, EHLO, QUIT each time; with
  ``--security starttls`` or ``tls`` also a TLS handshake, against a test CA), on ``--fresh``
  messages, as a ratio measured in the same run (machines here are shared and noisy: compare
  ratios).

The server (tests/delivery/smtp_server.py) runs in a child process by default, as a relay
would; ``--in-process`` runs it in a thread of this process, sharing the GIL with the client.
With ``--connections N`` (N > 1), the same messages also go over N reused connections at
once (``[smtp] connections``), right after the one-connection run: ratio N / 1 in the same run.
A single aiosmtpd process is one event loop, so on this 2-core machine it, not the client, is
what several connections wait for; a real relay (Postfix) digests messages in parallel.
Target: >= 500 messages/s with connection reuse.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.config import SmtpConfig, load_config  # noqa: E402
from digest.delivery.job import RecipientFactory, make_job  # noqa: E402
from digest.delivery.message import build_message  # noqa: E402
from digest.delivery.smtp import SmtpBackend  # noqa: E402
from digest.delivery.smtp_pool import PooledSmtpBackend  # noqa: E402
from digest.edition.build import build_edition  # noqa: E402
from digest.models import Subscriber  # noqa: E402
from digest.tokens import TokenSigner  # noqa: E402
from tests.delivery.smtp_server import SmtpTestServer, ca_pem, client_context  # noqa: E402

NOW = datetime.fromisoformat("2025-07-01T08:00:00+01:00")
NAMES = ["Amina Benali", "Youssef El Idrissi", "Zoé Martin", "أمينة بنعلي", ""]


def serve(pipe, tls) -> None:
    """The child process: a server that keeps envelopes only, answering "stats" and "stop"."""
    with SmtpTestServer(keep_data=False, tls=tls) as server:
        pipe.send((server.port, ca_pem() if tls else None))
        while pipe.recv() == "stats":
            pipe.send({"connections": server.connections, "messages": len(server.messages)})


class Remote:
    def __init__(self, tls):
        ctx = multiprocessing.get_context("spawn")
        self.pipe, child = ctx.Pipe()
        self.process = ctx.Process(target=serve, args=(child, tls), daemon=True)
        self.process.start()
        self.host = "127.0.0.1"
        self.port, self.ca = self.pipe.recv()

    def stats(self) -> dict:
        self.pipe.send("stats")
        return self.pipe.recv()

    def stop(self) -> None:
        self.pipe.send("stop")
        self.process.join(5)


class Local:
    def __init__(self, tls):
        self.server = SmtpTestServer(keep_data=False, tls=tls).start()
        self.host, self.port = self.server.host, self.server.port
        self.ca = ca_pem() if tls else None

    def stats(self) -> dict:
        return {"connections": self.server.connections, "messages": len(self.server.messages)}

    def stop(self) -> None:
        self.server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument(
        "--fresh",
        type=int,
        default=300,
        help="messages sent with a new connection each (default 300)",
    )
    parser.add_argument("--in-process", action="store_true")
    parser.add_argument("--security", choices=("none", "starttls", "tls"), default="none")
    parser.add_argument(
        "--connections",
        type=int,
        default=1,
        help="also send over this many connections at once (smtp.connections)",
    )
    args = parser.parse_args()

    config = load_config(ROOT / "digest.toml", env={})
    built = build_edition(config, list_name="matinale", now=NOW)
    job = make_job(config, built.edition, built.rendered)
    factory = RecipientFactory(config, job, TokenSigner("k" * 40))
    started = time.perf_counter()
    people = [
        factory(Subscriber(id=i, email=f"reader{i}@example.org", name=NAMES[i % len(NAMES)]))
        for i in range(1, args.messages + args.fresh + 1)
    ]
    values_s = (time.perf_counter() - started) / len(people)
    reuse, fresh = people[: args.messages], people[args.messages :]

    tls = {"none": None, "starttls": "starttls", "tls": "implicit"}[args.security]
    server = Local(tls) if args.in_process else Remote(tls)
    smtp = SmtpConfig(
        host=server.host,
        port=server.port,
        security=args.security,
        timeout=30,
        local_hostname="bench.test",
    )
    context = client_context(server.ca) if tls else None
    try:
        # 1. Personalization + MIME alone, on the very messages sent below.
        backend = SmtpBackend(smtp, ssl_context=context)
        started = time.perf_counter()
        size = sum(len(backend.message_bytes(job, r)) for r in reuse)
        prepare_s = (time.perf_counter() - started) / len(reuse)
        sample = reuse[:200]
        started = time.perf_counter()
        for r in sample:
            html, text = job.personalizer.fill(r.values)
            build_message(r.envelope(job), html=html, text=text).as_bytes()
        full_build_s = (time.perf_counter() - started) / len(sample)

        # 2. The SMTP transaction alone (MAIL, RCPT, DATA on the open connection), with
        #    messages built beforehand and nothing to do while the server works.
        raws = [(r.subscriber.email, backend.message_bytes(job, r)) for r in sample]
        backend._send(job.from_email, raws[0][0], raws[0][1], lambda: None)  # opens the connection
        started = time.perf_counter()
        for to, raw in raws:
            backend._send(job.from_email, to, raw, lambda: None)
        transaction_s = (time.perf_counter() - started) / len(raws)
        backend.close()

        # 3. End to end, one connection reused across batches (a new backend: nothing cached).
        backend = SmtpBackend(smtp, ssl_context=context)
        before = server.stats()
        sent = 0
        started = time.perf_counter()
        for i in range(0, len(reuse), backend.max_batch):
            outcomes = backend.send_batch(job, reuse[i : i + backend.max_batch])
            sent += sum(o.status == "sent" for o in outcomes)
        backend.close()
        reuse_s = time.perf_counter() - started
        after = server.stats()

        # 3b. The same messages over several reused connections at once.
        pool_s = pool_conns = None
        if args.connections > 1:
            pool = PooledSmtpBackend(smtp, connections=args.connections, ssl_context=context)
            mark = server.stats()
            started = time.perf_counter()
            for i in range(0, len(reuse), pool.max_batch):
                outcomes = pool.send_batch(job, reuse[i : i + pool.max_batch])
                assert all(o.status == "sent" for o in outcomes)
            pool.close()
            pool_s = time.perf_counter() - started
            pool_conns = server.stats()["connections"] - mark["connections"]
        fresh_mark = server.stats()

        # 4. A new connection (connect, greeting, EHLO, QUIT) for every message.
        started = time.perf_counter()
        for r in fresh:
            [outcome] = backend.send_batch(job, [r])
            backend.close()  # QUIT: the next message opens a new connection
            assert outcome.status == "sent", outcome
        fresh_s = time.perf_counter() - started
        final = server.stats()
    finally:
        server.stop()

    rate = len(reuse) / reuse_s
    per_msg = reuse_s / len(reuse)
    fresh_rate = len(fresh) / fresh_s if fresh else float("nan")
    where = "in this process (shared GIL)" if args.in_process else "in a child process"
    print(
        f"server: aiosmtpd {where} on 127.0.0.1:{server.port}, security {args.security}; "
        f"message {size / len(reuse) / 1024:.1f} KiB on average"
    )
    print(
        f"reused connection: {len(reuse)} messages ({sent} sent, server accepted "
        f"{after['messages'] - before['messages']}) in {reuse_s:.2f} s = {rate:,.0f} messages/s "
        f"over {after['connections'] - before['connections']} connection(s)"
        f"  [target >= 500: {'met' if rate >= 500 else 'NOT met'}]"
    )
    print(
        f"  per message {per_msg * 1e3:.3f} ms end to end; timed apart: personalize + MIME "
        f"{prepare_s * 1e3:.3f} ms, SMTP transaction {transaction_s * 1e3:.3f} ms "
        f"(sum {(prepare_s + transaction_s) * 1e3:.3f} ms: the next message is built while "
        "the server digests the last)"
    )
    print(
        f"  (recipient values in the send loop: {values_s * 1e3:.3f} ms; the same MIME built"
        f" in full by build_message: {full_build_s * 1e3:.3f} ms, "
        f"{full_build_s / prepare_s:.0f}x the template)"
    )
    if pool_s:
        pool_rate = len(reuse) / pool_s
        print(
            f"{args.connections} connections at once: {len(reuse)} messages in {pool_s:.2f} s"
            f" = {pool_rate:,.0f} messages/s over {pool_conns} connections; ratio "
            f"{args.connections} / 1: {pool_rate / rate:.2f}x"
        )
    print(
        f"new connection per message: {len(fresh)} messages in {fresh_s:.2f} s = "
        f"{fresh_rate:,.0f} messages/s over {final['connections'] - fresh_mark['connections']} "
        f"connections"
    )
    print(f"ratio reused / new connection: {rate / fresh_rate:.2f}x")


if __name__ == "__main__":
    main()
