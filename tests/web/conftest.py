"""The web app's fixtures: a site with an editor and a webhook key, a stored draft, a client.

``client`` drives the app in process through httpx's ASGITransport, on an event loop of its
own so tests stay plain functions.
"""

import asyncio
import base64
import json
import time
from datetime import datetime

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import EXAMPLE_CSV, SAMPLE_NOW

# amina is an admin; karim (same password) only an editor: the roles' tests log in as him.
EDITOR, PASSWORD = "amina", "correct horse battery"
PLAIN_EDITOR = "karim"
SECRET = "s" * 48
BASE = "https://www.example.ma"


@pytest.fixture(scope="session")
def webhook_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def editor_hash():
    from digest.web.passwords import hash_password

    return hash_password(PASSWORD)


def public_key_b64(private_key) -> str:
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def sign(private_key, body: bytes, timestamp: str | None = None) -> dict:
    """The headers SendGrid sends with a signed Event Webhook post."""
    timestamp = timestamp or str(int(time.time()))
    signature = private_key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


@pytest.fixture
def web_config(site, webhook_key, editor_hash, tmp_path):
    from digest.config import load_config

    with open(site, "a", encoding="utf-8") as fh:
        fh.write(
            f'\n[editors]\n{PLAIN_EDITOR} = "{editor_hash}"\n'
            f'\n[editors.{EDITOR}]\npassword = "{editor_hash}"\nrole = "admin"\n'
            f'\n[sendgrid]\nwebhook_public_key = "{public_key_b64(webhook_key)}"\n'
            f'\n[web]\noutbox_dir = "web-outbox"\n'
        )
    return load_config(site, env={"DIGEST_SECRET_KEY": SECRET})


@pytest.fixture
def web_db(web_config):
    from digest.store.db import open_database

    database = open_database(web_config.database_url)
    yield database
    database.close()


@pytest.fixture
def subscribed(web_db):
    from digest.store.csvio import read_subscriber_csv
    from digest.store.subscribers import import_subscribers

    return import_subscribers(web_db, "matinale", read_subscriber_csv(EXAMPLE_CSV))


@pytest.fixture
def draft(web_config, web_db, subscribed):
    """Today's edition, stored and waiting for an editor's approval."""
    from digest.edition.build import build_edition
    from digest.store.editions import get_edition, save_edition

    built = build_edition(web_config, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW))
    save_edition(web_db, built.edition, built.rendered, needs_approval=True)
    return get_edition(web_db, built.edition.id)


class Client:
    """A synchronous face on httpx.AsyncClient + ASGITransport (cookies kept between calls)."""

    def __init__(self, app):
        self.loop = asyncio.new_event_loop()
        # An English-speaking browser: pages without a subscriber of their own read in English
        # (the site's language, French, is for browsers that ask for none; tests/web/test_i18n.py).
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=BASE,
            headers={"Accept-Language": "en-GB,en;q=0.8"},
        )
        self.base = app.state.web.base

    def request(self, method, path, **kw):
        absolute = path.startswith(("http", self.base + "/"))
        url = path if absolute else self.base + path
        return self.loop.run_until_complete(self.http.request(method, url, **kw))

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def csrf(self, path):
        """The CSRF token from the form on ``path``."""
        import re

        page = self.get(path)
        match = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert match, f"no CSRF field on {path}"
        return match.group(1)

    def login(self, name=EDITOR, password=PASSWORD):
        token = self.csrf("/login")
        return self.post("/login", data={"csrf": token, "name": name, "password": password})

    def close(self):
        self.loop.run_until_complete(self.http.aclose())
        self.loop.close()


@pytest.fixture
def app(web_config, web_db):
    from digest.web.app import create_app

    return create_app(web_config, db=web_db)


@pytest.fixture
def client(app):
    c = Client(app)
    yield c
    c.close()


@pytest.fixture
def editor(client):
    response = client.login()
    assert response.status_code == 303, response.text
    return client


def events_body(*events) -> bytes:
    return json.dumps(list(events)).encode()
