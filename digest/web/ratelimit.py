"""Small in-process limits per client, for the login and signup forms.

In process only: with several web workers each keeps its own window, which still bounds what
one client can do against one worker. Good enough to stop a script from hammering a form. (The
signup form's per-address limit, which protects a victim's inbox, is in the database instead:
digest/store/signups.py.) Clients are keyed by ``digest.web.session.client_ip``.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class RateLimit:
    """At most ``limit`` events per key in any ``per_seconds`` window."""

    def __init__(self, limit: int, per_seconds: float, *, clock=time.monotonic):
        self.limit, self.per, self.clock = limit, per_seconds, clock
        self._hits: dict[object, deque] = {}
        self._lock = threading.Lock()

    def allow(self, key) -> bool:
        """Counts one event for ``key``; False (and not counted) when it is over the limit."""
        with self._lock:
            hits = self._window(key)
            if len(hits) >= self.limit:
                return False
            hits.append(self.clock())
            return True

    def full(self, key) -> bool:
        """True when ``key`` is at its limit (counts nothing)."""
        with self._lock:
            return len(self._window(key)) >= self.limit

    def add(self, key) -> None:
        with self._lock:
            self._window(key).append(self.clock())

    def forget(self, key) -> None:
        with self._lock:
            self._hits.pop(key, None)

    def _window(self, key) -> deque:
        now = self.clock()
        if len(self._hits) > 10_000:  # forget idle keys rather than grow without bound
            self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.per}
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.per:
            hits.popleft()
        return hits


class LoginLimit:
    """Failed logins, counted twice: per (account, client) and per client.

    - 5 failures for one account from one client within 15 minutes: that client waits before
      trying that account again (the oldest failure must age out of the window).
    - 20 failures from one client within 15 minutes, whatever the accounts: that client waits.
    - Nothing is counted per account alone: an attacker hammering an account from elsewhere
      never locks its editor out. A correct password resets its (account, client) count.
    While a limit holds, the password is not even checked, so waiting is the only way on.
    """

    def __init__(
        self,
        *,
        per_account: int = 5,
        per_client: int = 20,
        window: float = 900,
        clock=time.monotonic,
    ):
        self.pairs = RateLimit(per_account, window, clock=clock)
        self.clients = RateLimit(per_client, window, clock=clock)

    def allowed(self, account: str, client: str) -> bool:
        return not (self.pairs.full((account, client)) or self.clients.full(client))

    def failed(self, account: str, client: str) -> None:
        self.pairs.add((account, client))
        self.clients.add(client)

    def succeeded(self, account: str, client: str) -> None:
        self.pairs.forget((account, client))
