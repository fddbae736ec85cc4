"""What variants cost per subscriber: a claimed batch turned into recipients, with one variant
(every reader in the list's default locale) and with three (fr, ar, en readers mixed), measured
in one run, rounds interleaved.

    .venv/bin/python bench/bench_variants.py [--subscribers 100000] [--rounds 5]

Both paths compute the same per-subscriber values (signed links, greeting, Message-ID); the
three-variant path also looks up each reader's variant (a dict per distinct locale) and groups
the batch by variant. Reports microseconds per subscriber for each and their ratio. Target:
within 1.3x of the one-variant path (compare the ratio; this machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.config import load_config  # noqa: E402
from digest.delivery.job import VariantJobs  # noqa: E402
from digest.edition.build import build_edition  # noqa: E402
from digest.models import Subscriber, Variant  # noqa: E402
from digest.store.claims import Claimed  # noqa: E402
from digest.store.editions import StoredEdition  # noqa: E402
from digest.tokens import TokenSigner  # noqa: E402

NOW = datetime.fromisoformat("2025-07-01T08:00:00+01:00")
BATCH = 1000


def stored_of(built) -> StoredEdition:
    return StoredEdition(
        id=built.edition.id,
        list_name=built.edition.list_name,
        list_id=1,
        status="sending",
        reason=None,
        backend="outbox",
        owner=None,
        needs_approval=False,
        approved_at=None,
        approved_by=None,
        edits=None,
        created_at=NOW,
        started_at=NOW,
        finished_at=None,
        edition=built.edition,
        rendered=built.rendered,
        variants=tuple(Variant(v.edition, v.rendered) for v in built.variants),
    )


def run(jobs: VariantJobs, batches) -> float:
    started = time.perf_counter()
    for claimed in batches:
        for _job, recipients in jobs.split(claimed):
            assert recipients
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    config = load_config(ROOT / "digest.toml", env={})
    signer = TokenSigner("b" * 40)
    built = build_edition(config, list_name="matinale", now=NOW, locales=("fr", "ar", "en"))
    three = VariantJobs(config, stored_of(built), signer)
    one = VariantJobs(config, replace(stored_of(built), variants=()), signer)
    locales = ("fr", "ar", "en_GB", None, "fr_MA", "ar_MA")
    claimed = [
        Claimed(
            delivery_id=i,
            subscriber=Subscriber(i, f"reader{i}@example.com", f"Lecteur {i}", locales[i % 6]),
            attempts=1,
        )
        for i in range(1, args.subscribers + 1)
    ]
    batches = [claimed[i : i + BATCH] for i in range(0, len(claimed), BATCH)]
    times: dict[str, list[float]] = {"one variant": [], "three variants": []}
    for _ in range(args.rounds):  # interleaved: both see the same machine load
        times["one variant"].append(run(one, batches))
        times["three variants"].append(run(three, batches))
    n = args.subscribers
    for name, values in times.items():
        print(f"{name:>15}: {statistics.median(values) / n * 1e6:.2f} us per subscriber")
    ratio = statistics.median(times["three variants"]) / statistics.median(times["one variant"])
    print(f"ratio three / one: {ratio:.2f}x")


if __name__ == "__main__":
    main()
