"""Databases written before the baseline revision (commits before 0ec184e), brought up to it.

Those commits ran ``create_all`` on every open, which adds a missing table but never a column,
so their databases differ from the baseline in known ways only:

- tables that did not exist yet (editions and deliveries before 7f8d174; events, schedules
  and scheduler_lease before 418b46b): created exactly as the baseline migration creates them;
- editions without the approval columns (needs_approval, approved_at, approved_by,
  edits_json: 08beea8), whose status CHECK lacks 'skipped': the columns are added (existing
  editions need no approval) and the CHECK replaced;
- deliveries indexed by (edition_id, status, id) instead of (edition_id, id) (68711cf).

Anything else is not a digest database this code knows, and is refused by the caller.
"""

from __future__ import annotations

import io
import re

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Boolean, Column, DateTime, String, Text, false, inspect
from sqlalchemy.sql.elements import conv

APPROVAL_COLUMNS = ("needs_approval", "approved_at", "approved_by", "edits_json")
EDITION_STATUS_CHECK = "status IN ('ready', 'sending', 'paused', 'sent', 'skipped')"
OLD_DELIVERIES_INDEX = "ix_deliveries_edition_status"
DELIVERIES_INDEX = "ix_deliveries_edition_id"
_DDL_TABLE = re.compile(r"^\s*CREATE (?:UNIQUE )?(?:TABLE|INDEX \S+ ON) (\w+)", re.IGNORECASE)


def bring_to_baseline(conn, baseline_module) -> list[str]:
    """Repair the known gaps in place (inside the caller's transaction); returns what was done.
    ``baseline_module`` is the baseline revision's module, whose ``upgrade()`` makes tables."""
    done = []
    found = inspect(conn)
    tables = set(found.get_table_names())
    missing_tables = _baseline_tables(conn, baseline_module) - tables
    if missing_tables:
        _create_from_baseline(conn, baseline_module, missing_tables)
        done.append(f"created {', '.join(sorted(missing_tables))}")
    if "editions" in tables:
        done += _approval_columns(conn)
    if "deliveries" in tables:
        indexes = {i["name"] for i in inspect(conn).get_indexes("deliveries")}
        ops = Operations(MigrationContext.configure(conn))
        if OLD_DELIVERIES_INDEX in indexes:
            ops.drop_index(OLD_DELIVERIES_INDEX, "deliveries")
        if DELIVERIES_INDEX not in indexes:
            ops.create_index(DELIVERIES_INDEX, "deliveries", ["edition_id", "id"])
            done.append("re-indexed deliveries")
    return done


def _baseline_statements(conn, baseline_module) -> list[str]:
    """The baseline's DDL for this database's dialect, rendered offline (nothing executed)."""
    buffer = io.StringIO()
    context = MigrationContext.configure(
        dialect_name=conn.dialect.name, opts={"as_sql": True, "output_buffer": buffer}
    )
    with Operations.context(context):
        baseline_module.upgrade()
    return [s for s in buffer.getvalue().split(";") if s.strip()]


def _baseline_tables(conn, baseline_module) -> set[str]:
    return {
        m.group(1)
        for s in _baseline_statements(conn, baseline_module)
        if s.lstrip().upper().startswith("CREATE TABLE") and (m := _DDL_TABLE.match(s))
    }


def _create_from_baseline(conn, baseline_module, names: set[str]) -> None:
    for statement in _baseline_statements(conn, baseline_module):
        match = _DDL_TABLE.match(statement)
        if match and match.group(1) in names:
            conn.exec_driver_sql(statement)


def _approval_columns(conn) -> list[str]:
    have = {c["name"] for c in inspect(conn).get_columns("editions")}
    checks = inspect(conn).get_check_constraints("editions")
    old_check = [c["name"] for c in checks if "skipped" not in c["sqltext"]]
    lacking = [c for c in APPROVAL_COLUMNS if c not in have]
    if not lacking and not old_check:
        return []
    sqlite = conn.dialect.name == "sqlite"
    context = MigrationContext.configure(conn, opts={"render_as_batch": sqlite})
    ops = Operations(context)
    columns: dict[str, Column] = {
        # The server default only fills the existing rows; it is dropped just below, as the
        # baseline has none (digest always writes the value).
        "needs_approval": Column(
            "needs_approval", Boolean(), nullable=False, server_default=false()
        ),
        "approved_at": Column("approved_at", DateTime(timezone=True), nullable=True),
        "approved_by": Column("approved_by", String(200), nullable=True),
        "edits_json": Column("edits_json", Text(), nullable=True),
    }
    # SQLite cannot change a CHECK in place: batch mode rebuilds the table (foreign keys are
    # off for the migration, see Database.migrating, so no delivery row cascades away).
    with ops.batch_alter_table("editions", recreate="always" if sqlite else "auto") as batch:
        for name in lacking:
            batch.add_column(columns[name])
        for name in old_check:
            batch.drop_constraint(name, type_="check")
        if old_check:
            batch.create_check_constraint(conv("ck_editions_status"), EDITION_STATUS_CHECK)
    if "needs_approval" in lacking:
        with ops.batch_alter_table("editions", recreate="always" if sqlite else "auto") as batch:
            batch.alter_column(
                "needs_approval",
                server_default=None,
                existing_type=Boolean(),
                existing_nullable=False,
            )
    done = [f"added editions.{name}" for name in lacking]
    return done + (["allowed edition status 'skipped'"] if old_check else [])
