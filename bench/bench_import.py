"""Peak memory of a subscriber import: a generated CSV streamed into a SQLite file.

    .venv/bin/python bench/bench_import.py [--rows 1000000]

Writes a CSV of N rows (email,name,locale,timezone; 40 domains) in a temporary folder, then
imports it in a CHILD process, so the figure is the import's alone: its peak resident size
(ru_maxrss) and wall time. Target (issue 8): 1,000,000 rows under 200 MB peak.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

CHILD = textwrap.dedent("""
    import resource, sys, time
    from digest.store.csvio import open_subscriber_files
    from digest.store.db import open_database
    from digest.store.subscribers import import_subscribers

    start = time.monotonic()
    report = import_subscribers(open_database("sqlite:///" + sys.argv[2]), "big",
                                open_subscriber_files(sys.argv[1]))
    print(f"{report.added} added, {report.total_rejected} rejected in "
          f"{time.monotonic() - start:.1f} s; peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "people.csv"
        with open(path, "w", encoding="utf-8") as out:
            out.write("email,name,locale,timezone\n")
            for start in range(0, args.rows, 10_000):
                out.write(
                    "".join(
                        f"person{i}@example{i % 40}.com,Personne Numéro {i},fr,Africa/Casablanca\n"
                        for i in range(start, min(start + 10_000, args.rows))
                    )
                )
        print(f"{args.rows:,} rows, {path.stat().st_size / 2**20:.0f} MB of CSV")
        subprocess.run(
            [sys.executable, "-c", CHILD, str(path), str(Path(folder) / "db.sqlite")], check=True
        )


if __name__ == "__main__":
    main()
