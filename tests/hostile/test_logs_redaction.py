"""Secrets in log lines: no API key and no subscriber's link token may reach one.

Log files are read by more people and kept longer than the database. The attacks: a provider
error body that echoes a key and an unsubscribe link back (so the scheduler logs it as the
reason), a traceback whose message holds a token, arguments of any type, the generated
var/.secret-key value, and escape sequences meant for whoever tails the log.
"""

import contextlib
import io
import json
import logging
import sys
from datetime import datetime

import pytest

from digest.config import load_config
from digest.logs import never_log, setup_logging
from digest.schedule.runs import run_send
from digest.store.schedules import Schedule, add_schedule, get_schedule
from digest.tokens import TokenSigner
from tests.conftest import SAMPLE_NOW
from tests.delivery import sendgrid_server
from tests.delivery.sendgrid_server import SendGridServer
from tests.delivery.test_send import subscribe

SECRET = "k" * 40
SIGNER = TokenSigner(SECRET)
API_KEY = "SG.loopbackKey1234.abcdefghijklmnopqrstuvwxyz0123456789"
OTHER_KEY = "SG.someoneElses_key.ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210"


@pytest.fixture
def log_stream():
    """The CLI's logging setup writing into a buffer; the loggers restored afterwards."""
    saved = {
        n: (logging.getLogger(n).level, list(logging.getLogger(n).handlers))
        for n in ("digest", "apscheduler")
    }
    stream = io.StringIO()

    def install(fmt):
        setup_logging(fmt, stream)
        return stream

    yield install
    for name, (level, handlers) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_provider_error_echoing_key_and_link_is_logged_redacted(
    site, db, tmp_path, monkeypatch, log_stream, fmt
):
    token = SIGNER.make(1, "matinale")
    link = f"https://www.example.ma/digest/u/{token}"
    said = f"invalid List-Unsubscribe <{link}>; key {OTHER_KEY}; secret {SECRET}; \x1b[2J"
    monkeypatch.setitem(sendgrid_server.ERRORS, 400, (said, "headers"))
    monkeypatch.setenv("DIGEST_SECRET_KEY", SECRET)
    monkeypatch.setenv("SENDGRID_API_KEY", API_KEY)
    stream = log_stream(fmt)
    subscribe(db, [("amina@example.com", "Amina")])
    add_schedule(
        db,
        Schedule(
            name="morning",
            list_name="matinale",
            cron="0 8 * * *",
            timezone="Africa/Casablanca",
            backend="sendgrid",
        ),
    )
    with SendGridServer(api_key=API_KEY) as server:
        server.script(["400"] * 20)
        config = load_config(
            site,
            env={
                "SENDGRID_API_HOST": server.url,
                "SENDGRID_API_KEY": API_KEY,
                "DIGEST_SECRET_KEY": SECRET,
            },
        )
        result = run_send(
            config,
            db,
            get_schedule(db, "morning"),
            datetime.fromisoformat(SAMPLE_NOW),
            out_dir=tmp_path / "out",
            signer=SIGNER,
        )
    assert server.answers and server.answers[0][0] == 400  # the attack was delivered
    assert result.status != "sent"
    logged = stream.getvalue()
    assert "invalid List-Unsubscribe" in logged  # the reason is logged...
    for secret in (token, OTHER_KEY, API_KEY, SECRET, "\x1b"):
        assert secret not in logged  # ...without what it carried
    assert "/u/[token]" in logged and "SG.[redacted]" in logged
    if fmt == "json":
        lines = [json.loads(line) for line in logged.splitlines()]
        assert any("[token]" in (line.get("reason") or "") for line in lines)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_tokens_in_arguments_extras_and_tracebacks_are_redacted(log_stream, fmt):
    from itsdangerous import URLSafeTimedSerializer

    unsubscribe = SIGNER.make(42, "matinale")
    preferences = TokenSigner(SECRET, purpose="preferences").make(42, "matinale")
    confirm = URLSafeTimedSerializer(SECRET).dumps(["amina@example.com", "matinale", None])
    local_key = "generated-local-key-" + "x" * 30
    never_log(local_key)  # what signer_for does with a key read from var/.secret-key
    stream = log_stream(fmt)
    log = logging.getLogger("digest.scheduler")
    log.warning("GET /digest/p/%s and %r", preferences, {"t": unsubscribe})
    log.warning("bare %s", unsubscribe, extra={"event": "send", "reason": f"token {confirm}"})
    log.info("confirm link https://x.example/digest/confirm/%s?token=%s", confirm, confirm)
    log.info("Authorization: Bearer %s, key %s", OTHER_KEY, local_key)
    try:
        raise RuntimeError(f"cannot send to https://x.example/digest/u/{unsubscribe}")
    except RuntimeError:
        log.exception("failed")
    logged = stream.getvalue()
    for secret in (unsubscribe, preferences, confirm, OTHER_KEY, local_key):
        assert secret not in logged
    assert logged.count("[token]") >= 5 and "RuntimeError" in logged


def test_the_cli_installs_the_redacting_handler_for_every_command(monkeypatch, capsys):
    """Before, a library warning during 'digest send' went to Python's last-resort handler,
    unfiltered."""
    from digest.cli import main

    saved = {
        n: (logging.getLogger(n).level, list(logging.getLogger(n).handlers))
        for n in ("digest", "apscheduler")
    }
    monkeypatch.setattr(sys, "argv", ["digest", "--version"])
    try:
        with contextlib.suppress(SystemExit):
            main()  # prints the version; every command goes through the same main()
        token = SIGNER.make(7, "matinale")
        logging.getLogger("digest.delivery.smtp").warning("relay said: /u/%s", token)
        logging.getLogger("digest.delivery.smtp").info("not shown at the CLI's level")
    finally:
        for name, (level, handlers) in saved.items():
            logging.getLogger(name).handlers[:] = handlers
            logging.getLogger(name).setLevel(level)
    err = capsys.readouterr().err
    assert "relay said: /u/[token]" in err and token not in err
    assert "not shown" not in err
