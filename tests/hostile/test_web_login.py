"""Password guessing against the login form: the rule (digest/web/ratelimit.py, README):
5 failures for one account from one client, or 20 from one client whatever the accounts,
within 15 minutes, make that client wait; nothing is counted per account alone."""

from tests.hostile.webparts import *  # noqa: F403 - the web fixtures
from tests.hostile.webparts import Peer


def test_hammering_an_account_does_not_lock_its_editor_out(app):
    """Attack: one client guesses amina's password over and over."""
    attacker, editor = Peer(app, "203.0.113.9"), Peer(app, "198.51.100.7")
    try:
        statuses = [attacker.login(password=f"guess {i}").status_code for i in range(8)]
        assert statuses == [401] * 5 + [429] * 3
        # The attacker cannot go on, not even by finding the password now...
        assert attacker.login().status_code == 429
        # ...while the real editor, from their own machine, logs in as usual.
        assert editor.login().status_code == 303
        assert editor.get("/editions").status_code == 200
    finally:
        attacker.close()
        editor.close()


def test_spreading_over_accounts_is_limited_per_client(app):
    """Attack: one client tries a few passwords on each of many accounts, staying under the
    per-account count."""
    attacker, other = Peer(app, "203.0.113.9"), Peer(app, "198.51.100.7")
    try:
        statuses = [
            attacker.login(name=f"user{i // 4}", password=f"p{i}").status_code for i in range(22)
        ]
        assert statuses == [401] * 20 + [429] * 2
        assert attacker.login(name="someone-new").status_code == 429  # a fresh account too
        assert other.login(name="user0", password="p0").status_code == 401  # not locked
        assert other.login().status_code == 303
    finally:
        attacker.close()
        other.close()


def test_a_correct_password_clears_the_accounts_count(app):
    """Control: an editor's own typos (under the limit) are forgotten once they get in."""
    editor = Peer(app, "198.51.100.7")
    try:
        for i in range(4):
            assert editor.login(password=f"typo {i}").status_code == 401
        assert editor.login().status_code == 303
        for i in range(4):
            assert editor.login(password=f"typo again {i}").status_code == 401
        assert editor.login().status_code == 303
    finally:
        editor.close()


def test_forged_forwarded_for_does_not_reset_the_count(app):
    """Attack: a new X-Forwarded-For on each guess, with no trusted proxy configured (the
    default): the header is ignored and the socket peer is counted."""
    attacker = Peer(app, "203.0.113.9")
    try:
        statuses = [
            attacker.login(password=f"g{i}", headers={"X-Forwarded-For": f"10.9.0.{i}"}).status_code
            for i in range(6)
        ]
        assert statuses == [401] * 5 + [429]
    finally:
        attacker.close()


def test_the_limit_keeps_its_counts_apart():
    """The rule on its own, with a clock: the window slides, a success clears only its pair."""
    from digest.web.ratelimit import LoginLimit

    now = [0.0]
    limit = LoginLimit(per_account=2, per_client=3, window=60, clock=lambda: now[0])
    limit.failed("amina", "a")
    limit.failed("amina", "a")
    assert not limit.allowed("amina", "a")
    assert limit.allowed("amina", "b") and limit.allowed("omar", "a")
    limit.failed("omar", "a")
    assert not limit.allowed("karim", "a")  # 3 failures from "a"
    now[0] = 61
    assert limit.allowed("amina", "a") and limit.allowed("karim", "a")
    limit.failed("amina", "a")
    limit.succeeded("amina", "a")
    limit.failed("amina", "a")
    assert limit.allowed("amina", "a")
