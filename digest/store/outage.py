"""Riding out a database that stops answering for a while (PostgreSQL restarting, a network cut,
SQLite's disk full or locked past its busy timeout), instead of ending in a traceback.

``Retry`` calls a store function again until it succeeds or a bounded time has passed
(``[delivery] database_retry_seconds``). It only retries what an outage raises (the driver's
OperationalError / InterfaceError, or a connection SQLAlchemy found dead); a constraint
violation or a bad query is raised at once. The functions it wraps are safe to run again:
each is one transaction, committed whole or not at all, and a ledger write sets a row's state
rather than adding to it. The first failure is reported in one sentence, and so is the
recovery; when the time is up, a DatabaseOutage (a StoreError: a sentence, never a traceback).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError

from digest.errors import StoreError

log = logging.getLogger("digest.store.outage")

T = TypeVar("T")


class DatabaseOutage(StoreError):
    """The database did not answer within the bounded retry time."""


def is_outage(exc: BaseException) -> bool:
    """True for errors a database that is down, restarting or out of space raises."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def describe(exc: BaseException) -> str:
    """The driver's first line: 'connection refused', 'database or disk is full', ..."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Retry:
    """``retry(fn, *args, **kw)``: fn's result, retried through an outage of up to ``seconds``.

    ``then`` ends the sentence of a give-up: what is left behind and what the operator does.
    """

    def __init__(
        self,
        seconds: float,
        *,
        then: str = "",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
        say: Callable[[str], None] | None = None,
    ):
        self.seconds, self.then = seconds, then
        self.clock, self.sleep = clock, sleep
        self.say = say or log.warning
        self.outages = 0  # how many outages were ridden out (for tests and reports)

    def __call__(self, fn: Callable[..., T], *args, **kw) -> T:
        deadline: float | None = None
        delay = 0.1
        while True:
            try:
                result = fn(*args, **kw)
            except SQLAlchemyError as exc:
                if not is_outage(exc):
                    raise
                now = self.clock()
                if deadline is None:
                    deadline = now + self.seconds
                    self.say(
                        f"the database does not answer ({describe(exc)}); trying again for "
                        f"up to {self.seconds:g} s (delivery.database_retry_seconds)"
                    )
                if now >= deadline:
                    raise DatabaseOutage(
                        f"the database did not answer for {self.seconds:g} s ({describe(exc)})"
                        + (f"; {self.then}" if self.then else "")
                    ) from None
                self.sleep(min(delay, max(deadline - now, 0.0)))
                delay = min(delay * 2, 2.0)
                continue
            if deadline is not None:
                self.outages += 1
                self.say("the database answers again; carrying on")
            return result
