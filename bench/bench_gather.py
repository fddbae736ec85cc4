"""Gathering: 10 feeds on loopback, each answering in 500 ms, read at once vs one after another.

    .venv/bin/python bench/bench_gather.py [--feeds 10] [--delay 0.5] [--rounds 3]

Both ways in one run, interleaved rounds, medians: ``read_sources`` as ``digest build`` calls it
(every source at once, one deadline for the gathering), and the same sources read one after
another (``read_source`` in a loop, as before issue 12). Plus the price of a hung source: the
same feeds with one that never answers, under a 2 s gathering deadline.
Target (issue 12): 10 feeds answering in 500 ms gathered in under 1.5 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.config import SourceConfig  # noqa: E402
from digest.sources import Fetcher, read_source, read_sources  # noqa: E402
from tests.sources.slow_feeds import SlowFeeds  # noqa: E402

SITE = "https://www.example.ma"
CASABLANCA = ZoneInfo("Africa/Casablanca")
REFERENCE = datetime.fromisoformat("2025-07-01T08:00:00+01:00")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=10)
    parser.add_argument("--delay", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    kw = {"reference_time": REFERENCE, "tz": CASABLANCA, "site_url": SITE}
    at_once, in_turn = [], []
    with SlowFeeds(hang_seconds=30) as feeds:
        configs = [
            SourceConfig(
                name=f"feed{i}",
                kind="rss",
                timeout=10,
                allow_private=True,
                location=feeds.url(f"feed{i}", delay=args.delay),
            )
            for i in range(args.feeds)
        ]
        for _ in range(args.rounds):
            with Fetcher("digest-bench/1.0") as fetcher:
                t0 = time.perf_counter()
                results = read_sources(configs, fetcher=fetcher, deadline=30, **kw)
                at_once.append(time.perf_counter() - t0)
                assert all(r.ok for r in results), [r.error for r in results]
                t0 = time.perf_counter()
                results = [read_source(c, fetcher=fetcher, **kw) for c in configs]
                in_turn.append(time.perf_counter() - t0)
                assert all(r.ok for r in results), [r.error for r in results]
        hung = [
            *configs,
            SourceConfig(
                name="hung",
                kind="rss",
                timeout=20,
                allow_private=True,
                location=feeds.url("hung", hang=True),
            ),
        ]
        with Fetcher("digest-bench/1.0") as fetcher:
            t0 = time.perf_counter()
            results = read_sources(hung, fetcher=fetcher, deadline=2, **kw)
            hung_s = time.perf_counter() - t0
        assert [r.ok for r in results] == [True] * args.feeds + [False]
    a, b = statistics.median(at_once), statistics.median(in_turn)
    print(f"{args.feeds} feeds, each answering in {args.delay * 1000:.0f} ms, {args.rounds} rounds")
    print(
        f"at once (digest build): {a:.2f} s (median; {', '.join(f'{x:.2f}' for x in at_once)})"
        f"  [target < 1.5 s]"
    )
    print(f"one after another:      {b:.2f} s (median; {', '.join(f'{x:.2f}' for x in in_turn)})")
    print(f"with one hung source (its timeout 20 s, gathering deadline 2 s): {hung_s:.2f} s")
    print(f"ratio one after another / at once: {b / a:.1f}x")


if __name__ == "__main__":
    main()
