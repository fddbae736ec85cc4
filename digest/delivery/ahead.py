"""The next batch read and prepared while the current one is in flight.

A SendGrid request waits on the network and the provider for about as long as the sender
spends reading the next batch and building its request (per-subscriber values, substitutions,
600 KB of JSON). So while batch N is posted, a thread reads what the next claim would find
(claims.peek: it reads, marks nothing) and prepares its request. After N's answer (as always:
a row is 'sending' only once the answer before it is known), the loop claims exactly the rows
read, by id (claims.claim_read), in the transaction that writes N's answers, and posts the
request prepared for them. A row no longer pending by then is left out and the rest prepared
again; a look ahead older than ``FRESH_SECONDS`` (a long Retry-After, pacing) is not used for the
claim, whose membership and suppression checks must be recent: the loop claims as without it.

So a reader who unsubscribes during the round trip before their batch may still receive it, as
one who unsubscribes while their own batch is posted would. The ledger, its order and every
other rule of the loop are unchanged.

Workers sharing one edition (``--join``, PostgreSQL) would race each other's claims with a
plain read. Theirs reserves instead (claims.reserve): the rows are read FOR UPDATE SKIP LOCKED
in a transaction left open, marked nothing, so no other worker takes them and a worker that
dies leaves them pending; after N's answer the loop claims them in that same transaction
(claims.claim_reserved), which commits. A reservation not claimed within ``FRESH_SECONDS`` is
let go by a timer, so `digest cancel` or an erasure, which wait for locked rows, wait no longer.
A sender whose look ahead keeps missing stops using it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from typing import NamedTuple

from sqlalchemy.exc import SQLAlchemyError

from digest.delivery.base import Backend, Recipient, SendJob
from digest.delivery.job import VariantJobs
from digest.store import claims
from digest.store.claims import Batch, Claimed, Peek, Reserved

log = logging.getLogger("digest.delivery")
MISSES_TO_STOP = 3  # in a row
FRESH_SECONDS = 2.0  # how old a look ahead's checks may be when its rows are claimed


class Ready(NamedTuple):
    """One locale variant's part of a batch, ready to hand over. ``prepared``: the backend's
    request for it (backends that prepare nothing ahead have None)."""

    job: SendJob
    recipients: list[Recipient]
    prepared: object | None


class Ahead(NamedTuple):
    """What a look ahead read, the batch it prepared from it, and when it read (the clock's);
    ``reserved``: the open transaction holding its rows, for a worker beside others."""

    seen: Peek
    ready: list[Ready]
    read_at: float
    reserved: Reserved | None = None


class LookAhead:
    def __init__(
        self,
        *,
        db,
        edition_id: str,
        list_id: int,
        variants: VariantJobs,
        backend: Backend,
        limit: int,
        zones: Collection[str] | None,
        default_zone: str,
        enabled: bool = True,
        reserve: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.db, self.edition_id, self.list_id = db, edition_id, list_id
        self.variants, self.backend, self.limit = variants, backend, limit
        self.zones, self.default_zone, self.clock = zones, default_zone, clock
        self._prepare = getattr(backend, "prepare", None)
        self.enabled = enabled and self._prepare is not None
        self.reserve = reserve  # beside other workers: lock what is read (claims.reserve)
        self.fresh_seconds = FRESH_SECONDS
        self._pool: ThreadPoolExecutor | None = None
        self._next: Future | None = None
        self.hits = self.misses = 0
        self._missed = 0

    def start(self, after: int) -> None:
        """Read and prepare, in the background, the batch after ``after``."""
        if not self.enabled:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-ahead")
        self._next = self._pool.submit(self._ahead, after)

    def take(self) -> Ahead | None:
        """The look ahead started last, once done; None if there is none or it failed."""
        future, self._next = self._next, None
        if future is None:
            return None
        try:
            return future.result()
        except SQLAlchemyError as exc:  # an outage: the claim rides it out, then prepares
            log.debug("%s: the look ahead could not read the ledger: %s", self.edition_id, exc)
            return None

    def claim(
        self, made: Ahead | None, *, owner: str, answers: list, retry: Callable
    ) -> Batch | None:
        """The batch ``made`` read, claimed with the previous batch's ``answers`` (``retry``
        rides out an outage); None when it cannot be used, and the caller claims as without
        it (``answers`` not written yet)."""
        if made is None:
            return None
        if not self.usable(made):
            self.release(made)
            return None
        if made.reserved is None:
            return retry(
                claims.claim_read, self.db, self.edition_id, made.seen, owner=owner, answers=answers
            )
        try:  # None: let go by its timer meanwhile
            return claims.claim_reserved(
                made.reserved, self.edition_id, owner=owner, answers=answers
            )
        except SQLAlchemyError as exc:  # rolled back: nothing of it was written
            log.debug("%s: the reserved batch could not be claimed: %s", self.edition_id, exc)
            return None

    @staticmethod
    def release(made: Ahead | None) -> None:
        if made is not None and made.reserved is not None:
            claims.release(made.reserved)

    def usable(self, made: Ahead) -> bool:
        """Whether the next claim may take ``made``'s rows by id: it found rows, and its
        membership and suppression checks are recent."""
        return made.seen.last_id is not None and self.clock() - made.read_at <= self.fresh_seconds

    def ready(self, made: Ahead | None, claimed: list[Claimed]) -> list[Ready]:
        """The claimed batch ready to hand over: what ``made`` prepared if it is exactly these
        rows, else prepared now."""
        if made is not None and (made.seen.claimed is claimed or made.seen.claimed == claimed):
            self.hits += 1
            self._missed = 0
            return made.ready
        if made is not None:
            self.misses += 1
            self._missed += 1
            if self._missed >= MISSES_TO_STOP:
                log.info(
                    "%s: the look ahead keeps missing; preparing each batch in turn",
                    self.edition_id,
                )
                self.enabled = False
        return self.prepare(claimed)

    def prepare(self, claimed: list[Claimed]) -> list[Ready]:
        prepare = self._prepare
        return [
            Ready(job, recipients, prepare(job, recipients) if prepare else None)
            for job, recipients in self.variants.split(claimed)
        ]

    def close(self) -> None:
        """Drop what was read and prepared and not used (nothing of it was marked or sent),
        and let go of rows it reserved."""
        future, self._next = self._next, None
        if future is not None:
            future.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if future is not None and not future.cancelled() and future.exception() is None:
            self.release(future.result())

    def _ahead(self, after: int) -> Ahead:
        read = claims.reserve if self.reserve else claims.peek
        got = read(
            self.db,
            self.edition_id,
            self.list_id,
            after=after,
            limit=self.limit,
            zones=self.zones,
            default_zone=self.default_zone,
        )
        read_at = self.clock()
        reserved = got if isinstance(got, Reserved) else None
        seen = got.seen if isinstance(got, Reserved) else got
        if reserved is not None:
            # Locked rows make `digest cancel` and an erasure wait for them: not claimed
            # while still fresh (a long Retry-After, pacing), they are let go.
            timer = threading.Timer(self.fresh_seconds, claims.release, (reserved,))
            timer.daemon = True
            timer.start()
        try:
            ready = self.prepare(seen.claimed) if seen.claimed else []
        except BaseException:
            if reserved is not None:
                claims.release(reserved)
            raise
        return Ahead(seen, ready, read_at, reserved)
