"""Read every source at once, under one deadline for the whole gathering.

Fetched one after another, ten feeds that each take 500 ms cost five seconds, and a source
that hangs costs its whole timeout before the next one even starts. Here each source is read in
a thread of its own (at most ``MAX_WORKERS`` at a time; they share the build's ``Fetcher``),
each still under its own ``timeout``, and the gathering as a whole ends at ``deadline``
seconds: a source still running then (or never started) is reported as failed with that reason
and left behind, so the edition goes on without it. Results come back in the configured order,
whatever order they finished in, so the first source still wins duplicates.

The threads are daemons: one still waiting on a hung server never holds up the end of the
process (its own timeout ends it in the background).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from digest.config import SourceConfig
from digest.models import SourceResult

log = logging.getLogger(__name__)
MAX_WORKERS = 16


def gather(
    configs: Sequence[SourceConfig],
    read_one: Callable[[SourceConfig], SourceResult],
    *,
    deadline: float | None,
    workers: int = MAX_WORKERS,
    clock: Callable[[], float] = time.monotonic,
) -> list[SourceResult]:
    """``read_one(cfg)`` for every source, concurrently; one result per source, in order.

    ``read_one`` must not raise (``read_source``'s contract); if it does anyway, that source
    fails with the exception's sentence. ``deadline`` None waits for every source.
    """
    results: list[SourceResult | None] = [None] * len(configs)
    if not configs:
        return []
    done = threading.Condition()
    pending = list(range(len(configs)))[::-1]  # popped from the end: configured order
    finished = 0
    over = False

    def work() -> None:
        nonlocal finished
        while True:
            with done:
                if over or not pending:
                    return
                index = pending.pop()
            cfg = configs[index]
            try:
                result = read_one(cfg)
            except Exception as exc:  # read_one broke its contract: keep the others going
                log.exception("source %s could not be read", cfg.name)
                result = SourceResult(
                    name=cfg.name,
                    error=f"Source '{cfg.name}' could not be read: {type(exc).__name__}: {exc}.",
                )
            with done:
                if results[index] is None:
                    results[index] = result
                finished += 1
                done.notify_all()

    end = None if deadline is None else clock() + deadline
    for n in range(max(1, min(workers, len(configs)))):
        threading.Thread(target=work, name=f"digest-source-{n}", daemon=True).start()
    with done:
        while finished < len(configs):
            left = None if end is None else end - clock()
            if left is not None and left <= 0:
                break
            done.wait(left)
        over = True
        for index, cfg in enumerate(configs):
            if results[index] is None:
                results[index] = SourceResult(
                    name=cfg.name,
                    error=(
                        f"Source '{cfg.name}' was still being read when the gathering deadline of "
                        f"{deadline:g} s (edition.gather_timeout) passed; skipped."
                    ),
                )
        return [r for r in results if r is not None]
