"""Render once, personalize cheaply: the figures behind the design, measured in one run.

    .venv/bin/python bench/bench_render.py [--subscribers 100000] [--naive 40]

Reports, for the sample edition (samples/homepage-fr.txt at its capture time):
- build time in process (sources -> edition -> Jinja2 -> MJML -> premailer -> text part),
  first (cold: imports, template loading) and warm (median of repeats);
- per-subscriber personalization for N subscribers held in memory: signed unsubscribe token,
  greeting, Message-ID, and the HTML and text parts filled (outbox and SMTP), or only the
  substitution values computed (SendGrid, which fills server-side);
- the same subscriber rendered the naive way (a full Jinja2 -> MJML -> premailer render each);
- the ratio naive / personalized, both measured in this run (machines here are shared and noisy;
  compare ratios, not absolute times).

Targets (issue 2): build <= 100 ms in process; personalization >= 2,000x faster than naive.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.config import load_config  # noqa: E402
from digest.delivery.job import RecipientFactory, make_job  # noqa: E402
from digest.edition.build import build_edition  # noqa: E402
from digest.models import Subscriber  # noqa: E402
from digest.render import naive_render  # noqa: E402
from digest.tokens import TokenSigner  # noqa: E402

NOW = datetime.fromisoformat("2025-07-01T08:00:00+01:00")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--naive", type=int, default=40, help="naive renders to time")
    parser.add_argument("--builds", type=int, default=20, help="warm builds to time")
    args = parser.parse_args()

    config = load_config(ROOT / "digest.toml", env={})

    def build():
        return build_edition(config, list_name="matinale", now=NOW)

    t0 = time.perf_counter()
    built = build()
    cold_ms = (time.perf_counter() - t0) * 1000
    warm = []
    for _ in range(args.builds):
        t0 = time.perf_counter()
        build()
        warm.append((time.perf_counter() - t0) * 1000)
    warm_ms = statistics.median(warm)

    job = make_job(config, built.edition, built.rendered)
    make_recipient = RecipientFactory(config, job, TokenSigner("bench-secret-" + "x" * 32))
    fill = job.personalizer.fill
    names = ("Amina Benali", "Jean Dupont", "فاطمة الزهراء", "", "Zoé Moreau")
    subscribers = [
        Subscriber(id=i + 1, email=f"reader{i}@example.com", name=names[i % len(names)])
        for i in range(args.subscribers)
    ]
    html_bytes = 0
    t0 = time.perf_counter()
    for sub in subscribers:
        recipient = make_recipient(sub)
        html, text = fill(recipient.values)
        html_bytes += len(html)
    personal_us = (time.perf_counter() - t0) / len(subscribers) * 1e6

    # The SendGrid path: no document per subscriber, only its substitution values.
    substitutions = job.personalizer.substitutions
    t0 = time.perf_counter()
    for sub in subscribers:
        substitutions(make_recipient(sub).values)
    subst_us = (time.perf_counter() - t0) / len(subscribers) * 1e6

    list_title = config.list_config("matinale").title
    naive = []
    for sub in subscribers[: args.naive]:
        t0 = time.perf_counter()
        recipient = make_recipient(sub)
        naive_render(built.edition, config, list_title, recipient.values)
        naive.append(time.perf_counter() - t0)
    naive_us = statistics.median(naive) * 1e6

    size_kb = len(built.rendered.html.encode()) / 1024
    print(
        f"sample edition: {len(built.edition.ticker)} headlines, "
        f"{len(built.edition.featured)} featured, HTML {size_kb:.1f} KB"
    )
    print(
        f"build in process: first {cold_ms:.1f} ms (cold), warm median {warm_ms:.1f} ms "
        f"over {args.builds}  [target <= 100 ms]"
    )
    print(
        f"personalize: {personal_us:.2f} us/subscriber over {len(subscribers):,} "
        f"({personal_us * len(subscribers) / 1e6:.2f} s in all)"
    )
    print(f"  as SendGrid substitutions (no document per subscriber): {subst_us:.2f} us/subscriber")
    print(f"naive full render: {naive_us:,.0f} us/subscriber (median of {args.naive})")
    print(
        f"ratio naive / personalized: {naive_us / personal_us:,.0f}x filled in place, "
        f"{naive_us / subst_us:,.0f}x as substitutions  [target >= 2,000x]"
    )


if __name__ == "__main__":
    main()
