"""What the tests/hostile/test_web_*.py files share: the web app's fixtures (from tests/web/)
and a client that can come from any address.

The fixtures are imported by each test module (``from tests.hostile.webparts import *``), not
through a conftest.py, so this folder's other test files are not affected by them.
"""

import asyncio
import re

import httpx

from tests.web.conftest import (  # noqa: F401 - fixtures, found by pytest in the module
    BASE,
    EDITOR,
    PASSWORD,
    SECRET,
    app,
    client,
    draft,
    editor_hash,
    events_body,
    sign,
    subscribed,
    web_config,
    web_db,
    webhook_key,
)


class Peer:
    """A client whose socket address is ``ip`` (httpx's ASGITransport sets scope["client"]),
    with its own cookies: one attacker, one editor, one proxy."""

    def __init__(self, asgi_app, ip: str, *, loop=None):
        self.loop = loop or asyncio.new_event_loop()
        self.own_loop = loop is None
        transport = httpx.ASGITransport(
            app=asgi_app, client=(ip, 40000), raise_app_exceptions=False
        )
        self.http = httpx.AsyncClient(transport=transport, base_url=BASE)
        self.base = asgi_app.state.web.base

    def request(self, method, path, **kw):
        url = path if path.startswith("http") else self.base + path
        return self.loop.run_until_complete(self.http.request(method, url, **kw))

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def csrf(self, path, **kw):
        page = self.get(path, **kw)
        match = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert match, f"no CSRF field on {path}"
        return match.group(1)

    def login(self, name=EDITOR, password=PASSWORD, **kw):
        token = self.csrf("/login", **kw)
        return self.post("/login", data={"csrf": token, "name": name, "password": password}, **kw)

    def close(self):
        self.loop.run_until_complete(self.http.aclose())
        if self.own_loop:
            self.loop.close()


def web_app(config, db):
    from digest.web.app import create_app

    return create_app(config, db=db)


def with_web_table(config, **values):
    """The config with more keys in its [web] table (trusted_proxies...), loaded again."""
    from digest.config import load_config

    text = config.path.read_text(encoding="utf-8")
    extra = "".join(f"{k} = {_toml(v)}\n" for k, v in values.items())
    config.path.write_text(text.replace("\n[web]\n", "\n[web]\n" + extra, 1), encoding="utf-8")
    return load_config(config.path, env={"DIGEST_SECRET_KEY": SECRET})


def _toml(value):
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
