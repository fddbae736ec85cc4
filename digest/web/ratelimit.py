"""A small in-process rate limit per client, for the login and signup forms.

In process only: with several web workers each keeps its own window, which still bounds what
one client can do against one worker. Good enough to stop a script from hammering a form.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class RateLimit:
    def __init__(self, limit: int, per_seconds: float, *, clock=time.monotonic):
        self.limit, self.per, self.clock = limit, per_seconds, clock
        self._hits: dict[str, deque] = {}
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = self.clock()
        with self._lock:
            if len(self._hits) > 10_000:  # forget idle clients rather than grow without bound
                self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.per}
            hits = self._hits.setdefault(client, deque())
            while hits and hits[0] <= now - self.per:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True
