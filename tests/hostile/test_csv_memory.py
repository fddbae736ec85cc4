"""Memory of a large import stays bounded: the file is streamed, never held (issue 8).

Before, a 500 MB file peaked at 2.98 GB: the whole file was decoded, parsed and kept as rows
before the first insert. Measured in a subprocess on a SQLite file, as VmHWM (the peak resident
size of the process's own memory); not a timing test. Not ru_maxrss: Linux carries the high-water
mark across exec, so a child of a large pytest process would report pytest's size.
"""

import subprocess
import sys
import textwrap

ROWS = 200_000
NOTE = "n" * 250  # an ignored column: makes the file ~55 MB, well above the bound below
BOUND_MB = 160  # measured ~85 MB; holding the file alone would take more than this

SCRIPT = textwrap.dedent("""
    import sys
    from digest.store.csvio import open_subscriber_files
    from digest.store.db import open_database
    from digest.store.subscribers import import_subscribers

    db = open_database("sqlite:///" + sys.argv[2])
    report = import_subscribers(db, "big", open_subscriber_files(sys.argv[1]))
    status = open("/proc/self/status").read()
    peak_kb = int(status.split("VmHWM:")[1].split()[0])
    print(report.added, report.total_rejected, peak_kb // 1024)
""")


def test_a_large_file_imports_in_bounded_memory(tmp_path):
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8") as out:
        out.write("email,name,notes\n")
        for start in range(0, ROWS, 10_000):
            out.write(
                "".join(
                    f"p{i}@example{i % 40}.com,Personne {i},{NOTE}\n"
                    for i in range(start, start + 10_000)
                )
            )
    assert path.stat().st_size > BOUND_MB * 1024 * 1024 / 3
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path), str(tmp_path / "db.sqlite")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    added, rejected, peak_mb = map(int, proc.stdout.split())
    assert (added, rejected) == (ROWS, 0)
    assert peak_mb < BOUND_MB, f"peak {peak_mb} MB for {ROWS} rows"
