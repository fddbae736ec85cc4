"""SMTP over 1 and N connections (``[smtp] connections``) against a real Postfix on loopback.

    sudo .venv/bin/python bench/bench_postfix.py [--messages 2000] [--rounds 3] [--connections 4]

Postfix only where it is installed (Debian/Ubuntu: ``apt-get install postfix``; the package's
own instance need not run, and is not touched); without it, or without root (``postfix start``
needs it), this prints how and exits 0, skipped. It starts a throwaway instance of its own
(``postfix -c DIR`` on a config folder under /tmp, no systemd): smtpd on 127.0.0.1 on a free
port, loopback only, relaying for 127.0.0.0/8 only, and every message discarded
(``default_transport = discard``) once queued, so the relay does its real work per message
(smtpd, cleanup writing and fsyncing the queue file, qmgr) and nothing leaves the machine.
The instance is stopped and its folder removed at the end.

The sample edition's messages (one per subscriber, personalized, ~30 KiB) go through
``smtp_backend`` as ``digest send`` uses it, with 1 connection and with N, interleaved in each
round (1 then N, then N then 1), the queue drained between runs; the figures are medians, the
ratio N / 1 is of the same run. One message to a non-ASCII local part checks SMTPUTF8 first.
Target (issue 12): N = 4 at least 1.6x one connection.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.config import SmtpConfig, load_config  # noqa: E402
from digest.delivery.job import RecipientFactory, make_job  # noqa: E402
from digest.delivery.smtp_pool import smtp_backend  # noqa: E402
from digest.edition.build import build_edition  # noqa: E402
from digest.models import Subscriber  # noqa: E402
from digest.tokens import TokenSigner  # noqa: E402

NOW = datetime.fromisoformat("2025-07-01T08:00:00+01:00")
NAMES = ["Amina Benali", "Youssef El Idrissi", "Zoé Martin", "أمينة بنعلي", ""]
HOW = (
    "install it (Debian/Ubuntu: `apt-get install postfix`; its own instance need not run), "
    "then run this as root"
)


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


class Postfix:
    """A throwaway Postfix instance under a temporary folder (see the module docstring)."""

    def __init__(self, postfix: str):
        self.postfix = postfix
        self.dir = Path(tempfile.mkdtemp(prefix="digest-postfix-"))
        self.port = free_port()

    def postconf(self, name: str) -> str:
        out = subprocess.run(
            [shutil.which("postconf") or "postconf", "-h", name],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()

    def start(self) -> Postfix:
        d = self.dir
        d.chmod(0o755)  # mkdtemp's 0700 would keep Postfix's own user out of its queue
        (d / "queue").mkdir()
        (d / "data").mkdir()
        shutil.chown(d / "data", user=self.postconf("mail_owner"))
        (d / "main.cf").write_text(
            "\n".join(
                [
                    "compatibility_level = 3.6",
                    f"queue_directory = {d}/queue",
                    f"data_directory = {d}/data",
                    f"maillog_file_prefixes = {d}",
                    f"maillog_file = {d}/maillog",
                    "myhostname = bench.localdomain",
                    "inet_interfaces = loopback-only",
                    "inet_protocols = ipv4",
                    "mydestination =",
                    "mynetworks = 127.0.0.0/8",
                    "smtpd_relay_restrictions = permit_mynetworks, reject",
                    "default_transport = discard",
                    "relay_transport = discard",
                    "local_transport = discard",
                    "alias_maps =",
                    "alias_database =",
                    "smtputf8_enable = yes",
                    "biff = no",
                    "",
                ]
            )
        )
        # The package's master.cf, with smtpd moved to our port and nothing chrooted (a chroot
        # would need copies of /etc files inside the queue folder).
        lines = []
        master = Path(self.postconf("config_directory")) / "master.cf"
        for line in master.read_text().splitlines():
            fields = line.split()
            if line[:1].isalpha() and len(fields) >= 8:
                if fields[:2] == ["smtp", "inet"]:
                    fields[0] = f"127.0.0.1:{self.port}"
                fields[4] = "n"
                line = "  ".join(fields)
            lines.append(line)
        (d / "master.cf").write_text("\n".join(lines) + "\n")
        self._run("start")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"Postfix did not listen on port {self.port}; see {d}/maillog")

    def _run(self, command: str) -> None:
        done = subprocess.run(
            [self.postfix, "-c", str(self.dir), command], capture_output=True, text=True
        )
        if done.returncode != 0:  # postfix says why in its log, not on stderr without a tty
            log = self.dir / "maillog"
            said = log.read_text(errors="replace").splitlines()[-3:] if log.exists() else []
            raise RuntimeError(f"postfix {command} failed: {' / '.join(said) or done.stderr}")

    def queued(self) -> int:
        """Messages still in the queue (incoming, active, deferred)."""
        q = self.dir / "queue"
        return sum(
            len(files)
            for sub in ("incoming", "active", "deferred")
            for _, _, files in os.walk(q / sub)
        )

    def drain(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.queued() and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        try:
            self._run("stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def send_all(config: SmtpConfig, job, people, connections: int) -> tuple[float, float]:
    """(wall, this process's CPU) seconds to send ``people`` through ``smtp_backend`` with
    that many connections."""
    backend = smtp_backend(replace(config, connections=connections))
    started, cpu = time.perf_counter(), time.process_time()
    try:
        for i in range(0, len(people), backend.max_batch):
            outcomes = backend.send_batch(job, people[i : i + backend.max_batch])
            bad = [o for o in outcomes if o.status != "sent"]
            if bad:
                raise RuntimeError(f"not sent: {bad[0]}")
    finally:
        backend.close()
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()

    postfix = shutil.which("postfix") or shutil.which("postfix", path="/usr/sbin:/sbin")
    if postfix is None:
        print(f"skipped: Postfix is not installed; to run this benchmark, {HOW}")
        return
    if os.geteuid() != 0:
        print(f"skipped: starting a Postfix instance needs root; {HOW}")
        return

    config = load_config(ROOT / "digest.toml", env={})
    built = build_edition(config, list_name="matinale", now=NOW)
    job = make_job(config, built.edition, built.rendered)
    factory = RecipientFactory(config, job, TokenSigner("k" * 40))
    people = [
        factory(Subscriber(id=i, email=f"reader{i}@example.org", name=NAMES[i % len(NAMES)]))
        for i in range(1, args.messages + 1)
    ]
    server = Postfix(postfix)
    try:
        server.start()
        smtp = SmtpConfig(
            host="127.0.0.1", port=server.port, security="none", timeout=30,
            local_hostname="bench.test",
        )  # fmt: skip
        utf8 = factory(Subscriber(id=0, email="dédé@exemple.fr", name="Dédé"))
        [outcome] = smtp_backend(smtp).send_batch(job, [utf8])
        print(f"Postfix on 127.0.0.1:{server.port}; SMTPUTF8 to dédé@exemple.fr: {outcome}")
        send_all(smtp, job, people[:100], args.connections)  # warm up: processes spawned
        server.drain()
        times: dict[int, list[float]] = {1: [], args.connections: []}
        cpus: dict[int, list[float]] = {1: [], args.connections: []}
        for r in range(args.rounds):
            order = (1, args.connections) if r % 2 == 0 else (args.connections, 1)
            for n in order:
                wall, cpu = send_all(smtp, job, people, n)
                times[n].append(wall)
                cpus[n].append(cpu)
                server.drain()
            print(
                f"round {r + 1}: "
                + ", ".join(
                    f"{n} conn {len(people) / times[n][-1]:,.0f}/s "
                    f"(client CPU {cpus[n][-1] / len(people) * 1e3:.2f} ms/message)"
                    for n in order
                ),
                flush=True,
            )
    finally:
        server.stop()
    one = len(people) / statistics.median(times[1])
    many = len(people) / statistics.median(times[args.connections])
    ratio = many / one
    cpu = {n: statistics.median(c) / len(people) * 1e3 for n, c in cpus.items()}
    print(
        f"{args.messages} messages, median of {args.rounds}: 1 connection {one:,.0f} messages/s, "
        f"{args.connections} connections {many:,.0f} messages/s: ratio {ratio:.2f}x  "
        f"[target >= 1.6x with 4: {'met' if ratio >= 1.6 else 'NOT met'}]"
    )
    print(
        f"client CPU per message: {cpu[1]:.2f} ms with 1 connection, "
        f"{cpu[args.connections]:.2f} ms with {args.connections}; load average now "
        + " ".join(f"{x:.1f}" for x in os.getloadavg())
    )


if __name__ == "__main__":
    main()
