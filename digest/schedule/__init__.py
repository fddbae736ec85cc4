"""Scheduling: when each list's edition is drafted and sent (triggers), APScheduler's wiring and
the foreground scheduler (scheduler), one scheduled run (runs) and whether each list is on time
(health).

APScheduler's job store (a table of the project's database) keeps each job's function as the
string ``digest.schedule:run_job`` and each trigger pickled under its class's import path
(``digest.schedule.DailyCronTrigger`` in databases written before this package was split):
both must go on resolving from here, so they are looked up lazily (PEP 562), which keeps
``import digest.schedule.triggers`` from pulling in the scheduler.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "run_job":
        from digest.schedule.scheduler import run_job

        return run_job
    if name == "DailyCronTrigger":
        from digest.schedule.triggers import DailyCronTrigger

        return DailyCronTrigger
    raise AttributeError(f"module 'digest.schedule' has no attribute {name!r}")
