"""How fast to send and how long to wait: a sliding-window rate limit and exponential backoff.

Both take their clock, sleep and randomness as arguments so tests run them on a fake clock.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable


class SlidingWindow:
    """At most ``limit`` messages in any ``window`` seconds: a true sliding window.

    A fixed window (reset every minute) lets twice the limit through around each reset, which
    is exactly what a provider's limit punishes. Here each message's send time is remembered
    (as (time, count) pairs, one per batch) until it leaves the window.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if limit < 1 or window <= 0:
            raise ValueError("a rate limit needs limit >= 1 and a positive window")
        self.limit, self.window = limit, window
        self.clock, self.sleep = clock, sleep
        self._sent: deque[tuple[float, int]] = deque()
        self._in_window = 0

    def _expire(self, now: float) -> None:
        while self._sent and self._sent[0][0] <= now - self.window:
            self._in_window -= self._sent.popleft()[1]

    def wait_time(self, n: int, now: float) -> float:
        """Seconds until ``n`` more messages fit (0 when they fit now)."""
        if n > self.limit:
            raise ValueError(f"a batch of {n} can never fit a limit of {self.limit}")
        self._expire(now)
        need = self._in_window + n - self.limit
        if need <= 0:
            return 0.0
        freed = 0
        for sent_at, count in self._sent:
            freed += count
            if freed >= need:
                return max(sent_at + self.window - now, 1e-3)
        return 1e-3  # unreachable: n <= limit means the whole window can free enough

    def record(self, n: int, now: float) -> None:
        self._sent.append((now, n))
        self._in_window += n

    def acquire(self, n: int = 1) -> float:
        """Wait until ``n`` more messages fit in the window, then count them. Returns the wait."""
        return Limits([self]).acquire(n)


class Limits:
    """Several windows at once (per second and per minute): a batch goes when all admit it."""

    def __init__(self, windows: list[SlidingWindow]):
        self.windows = windows

    @property
    def largest_batch(self) -> int | None:
        return min((w.limit for w in self.windows), default=None)

    def acquire(self, n: int) -> float:
        if not self.windows:
            return 0.0
        waited = 0.0
        clock, sleep = self.windows[0].clock, self.windows[0].sleep
        while True:
            now = clock()
            delay = max(w.wait_time(n, now) for w in self.windows)
            if delay <= 0:
                for w in self.windows:
                    w.record(n, now)
                return waited
            sleep(delay)
            waited += delay


def backoff(
    attempt: int, *, base: float, cap: float, rng: Callable[[], float] = random.random
) -> float:
    """Seconds before retry number ``attempt`` (1, 2, ...): 'full jitter' exponential backoff.

    Jitter spreads the retries of many senders (or batches) so they don't hit a recovering
    provider in step.
    """
    return rng() * min(cap, base * 2 ** (attempt - 1))
