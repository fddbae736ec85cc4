"""Subscription tokens out of the web server's logs, the error path included: a 500 on
/u/{token} used to log the whole token (and so did the traceback, when the error's message
carried it)."""

import io
import logging
import socket
import threading
import time

import httpx
import uvicorn

from digest.tokens import TokenSigner
from tests.hostile.webparts import *  # noqa: F403 - the web fixtures
from tests.hostile.webparts import SECRET, web_app, with_web_table


def break_unsubscribe(monkeypatch):
    """The unsubscribe page fails with an error whose message quotes the token."""
    from digest.web import subscribers

    def broken(db, sid):
        raise RuntimeError(f"lookup failed for {TOKEN} (subscriber {sid})")

    monkeypatch.setattr(subscribers, "get_subscriber", broken)


TOKEN = TokenSigner(SECRET).make(7, "matinale")


def test_a_500_on_an_unsubscribe_link_logs_no_token(app, caplog, monkeypatch):
    """Attack (on privacy): make /u/{token} fail; read the error log."""
    break_unsubscribe(monkeypatch)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    client = httpx.AsyncClient(transport=transport, base_url="https://www.example.ma")
    import asyncio

    caplog.set_level(logging.WARNING, logger="httpx")  # the test's client, not the server
    with caplog.at_level(logging.INFO):
        response = asyncio.run(client.get(f"/digest/u/{TOKEN}"))
    assert response.status_code == 500
    assert "unhandled error on GET /digest/u/[token]" in caplog.text
    assert "RuntimeError: lookup failed for [token]" in caplog.text  # the traceback too
    assert TOKEN not in caplog.text
    assert TOKEN.rsplit(".", 1)[1] not in caplog.text  # not even its signature


class Captured(logging.Handler):
    def __init__(self):
        super().__init__()
        self.out = io.StringIO()
        self.setFormatter(logging.Formatter("%(name)s %(message)s"))

    def emit(self, record):
        self.out.write(self.format(record) + "\n")


def test_the_real_server_logs_no_token(web_config, web_db, monkeypatch):
    """Attack: the same through uvicorn, reading what it writes to its error and access logs
    (its own handlers, configured after the app was made)."""
    break_unsubscribe(monkeypatch)
    config = with_web_table(web_config, trusted_proxies=["127.0.0.1"])
    app = web_app(config, web_db)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="info", lifespan="off", proxy_headers=False)
    )
    captured = Captured()
    names = ("uvicorn.error", "uvicorn.access", "digest.web")
    for name in names:
        logging.getLogger(name).addHandler(captured)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive()
            time.sleep(0.02)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/digest"
        headers = {"X-Forwarded-For": "198.51.100.7"}
        assert httpx.get(f"{url}/u/{TOKEN}", headers=headers).status_code == 500
        assert httpx.get(f"{url}/p/{TOKEN}?x=1", headers=headers).status_code == 500
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        for name in names:
            logging.getLogger(name).removeHandler(captured)
    text = captured.out.getvalue()
    assert "Exception in ASGI application" in text and "Traceback" in text
    assert 'GET /digest/u/[token] HTTP/1.1" 500' in text
    assert 'GET /digest/p/[token]?x=1 HTTP/1.1" 500' in text
    assert TOKEN not in text and TOKEN.rsplit(".", 1)[1] not in text
    # The access log names the client the app counted (trusted proxy), not the proxy.
    assert "198.51.100.7:" in text


def test_the_filter_is_installed_once(app):
    from digest.web.app import create_app
    from digest.web.logredact import LOGGERS, RedactTokens

    create_app(app.state.web.config, db=app.state.web.db)
    for name in LOGGERS:
        assert sum(isinstance(f, RedactTokens) for f in logging.getLogger(name).filters) == 1
