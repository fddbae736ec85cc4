"""Draft the next revision: ``python -m digest.store.migrations revision -m "what changed"``.

It builds a throwaway SQLite database at the current head, compares it with the metadata in
digest/store/schema.py (Alembic's autogenerate) and writes versions/NNNN_<what_changed>.py,
numbered after the head. Read and finish the draft (see README, "Adding a migration"), then
run the tests: tests/store/test_migrations.py fails until the migrations match the metadata.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine

from digest.store.revision import alembic_config, head_revision


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m digest.store.migrations")
    sub = parser.add_subparsers(dest="command", required=True)
    draft = sub.add_parser("revision", help="draft the next revision from schema.py")
    draft.add_argument("-m", "--message", required=True, help="what changes, in a few words")
    draft.add_argument(
        "--empty", action="store_true", help="write an empty revision (a data-only change)"
    )
    args = parser.parse_args(argv)

    rev_id = f"{int(head_revision()) + 1:04d}"
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'head.db'}")
        try:
            with engine.begin() as conn:
                command.upgrade(alembic_config(conn), "head")
                command.revision(
                    alembic_config(conn), args.message, rev_id=rev_id, autogenerate=not args.empty
                )
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()
