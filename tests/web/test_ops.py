"""/healthz and /metrics: in process, against a database that does not answer, and on uvicorn."""

import socket
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from digest.store.db import Database
from digest.store.revision import head_revision
from tests.web.conftest import SECRET, Client, events_body, sign
from tests.web.server import running

TOKEN = "metrics-token-" + "q" * 24


def scrape(text: str) -> dict:
    """{(name, ((label, value), ...)): value} of a Prometheus text exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


@pytest.fixture
def metrics_config(site, web_config):
    from digest.config import load_config

    with open(site, "a", encoding="utf-8") as fh:
        fh.write("metrics = true\n")  # the file ends inside [web]
    return load_config(site, env={"DIGEST_SECRET_KEY": SECRET})


def app_for(config, db):
    from digest.web.app import create_app

    return create_app(config, db=db)


def dead_database(tmp_path, dialect) -> Database:
    """A database that does not answer: a PostgreSQL port nobody listens on, or a SQLite file in
    a folder that does not exist."""
    if dialect == "postgresql":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # closed again: nothing listens there
        url = f"postgresql+psycopg://digest:hunter2@127.0.0.1:{port}/digest"
    else:
        url = f"sqlite:///{tmp_path}/no/such/folder/digest.db"
    return Database(create_engine(url))


def test_healthz_reports_the_database_lease_and_last_editions(client, web_db, draft):
    from digest.store.schedules import acquire_lease

    response = client.get("/healthz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True and body["database"] == "ok" and body["schema_current"] is True
    assert body["revision"] == head_revision()  # a new database is made at the head
    assert body["scheduler"] is None
    [latest] = body["lists"]
    assert (latest["list"], latest["edition"], latest["status"]) == (
        "matinale",
        draft.id,
        "ready, not approved",
    )
    assert latest["sources_failed"] == 0

    acquire_lease(web_db, "host-a:123:abcd")
    lease = client.get("/healthz").json()["scheduler"]
    assert lease["holder"] == "host-a:123:abcd"
    assert 0 <= lease["age_seconds"] < 60 and lease["stale"] is False


def test_healthz_is_503_when_the_database_does_not_answer(web_config, tmp_path, database_url):
    dialect = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    dead = dead_database(tmp_path, dialect)
    c = Client(app_for(web_config, dead))
    try:
        response = c.get("/healthz")
        assert response.status_code == 503
        body = response.json()
        assert body["ok"] is False and body["database"] == "unavailable"
        assert "hunter2" not in response.text and "127.0.0.1" not in response.text
        assert c.get("/metrics").status_code == 404  # off in this config
    finally:
        c.close()
        dead.close()


def test_metrics_report_a_dead_database_as_down(metrics_config, tmp_path, database_url):
    dialect = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    dead = dead_database(tmp_path, dialect)
    c = Client(app_for(metrics_config, dead))
    try:
        response = c.get("/metrics")
        assert response.status_code == 200
        assert scrape(response.text)[("digest_database_up", ())] == 0
    finally:
        c.close()
        dead.close()


def test_healthz_is_503_when_the_schema_is_not_current(client, web_db):
    from sqlalchemy import text

    with web_db.write() as conn:
        conn.execute(text("DROP TABLE scheduler_lease"))
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok" and body["schema_current"] is False
    assert body["schema"]["missing_tables"] == ["scheduler_lease"]


def test_healthz_is_503_when_the_database_is_at_an_older_revision(client, web_db):
    """A database an older digest wrote (the web app was upgraded, `db upgrade` not run yet)."""
    from sqlalchemy import text

    with web_db.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["schema_current"] is False
    assert body["schema"] == {"revision": "0001", "head": head_revision(), "current": False}


def test_metrics_are_off_unless_enabled(client):
    assert client.get("/metrics").status_code == 404


def sent_edition(config, db, tmp_path):
    """Today's edition sent to the example list through the outbox."""
    from digest.delivery.loop import deliver
    from digest.delivery.outbox import OutboxBackend
    from digest.edition.build import edition_for_send
    from digest.tokens import TokenSigner

    stored, _ = edition_for_send(
        config, db, list_name="matinale", now=datetime.fromisoformat("2025-07-01T08:00:00+01:00")
    )
    report = deliver(
        config, db, stored, OutboxBackend(tmp_path / "out"), signer=TokenSigner(SECRET)
    )
    return stored, report


def test_metrics_count_messages_events_sends_builds_and_the_lease(
    metrics_config, web_db, subscribed, webhook_key, tmp_path
):
    from digest.store.schedules import acquire_lease

    stored, report = sent_edition(metrics_config, web_db, tmp_path)
    assert report.sent == subscribed.added > 0
    acquire_lease(web_db, "host-a:123:abcd", now=datetime.now(UTC))
    c = Client(app_for(metrics_config, web_db))
    try:
        events = [
            {
                "event": kind,
                "email": "camille.martin@example.com",
                "timestamp": 1751353200,
                "sg_event_id": f"ev-{n}",
                "edition_id": stored.id,
                "delivery_id": "1",
            }
            for n, kind in enumerate(("delivered", "delivered", "open", "bounce"))
        ]
        body = events_body(*events)
        assert (
            c.post("/hooks/sendgrid", content=body, headers=sign(webhook_key, body)).status_code
            == 200
        )
        response = c.get("/metrics")
    finally:
        c.close()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    m = scrape(response.text)
    ledger = (("backend", "outbox"), ("list", "matinale"))
    assert m[("digest_messages", (*ledger, ("status", "sent")))] == subscribed.added
    assert ("digest_messages", (*ledger, ("status", "failed"))) not in m
    assert m[("digest_webhook_events_total", (("type", "delivered"),))] == 2
    assert m[("digest_webhook_events_total", (("type", "open"),))] == 1
    assert m[("digest_webhook_events_total", (("type", "bounce"),))] == 1
    assert m[("digest_edition_send_seconds_count", (("list", "matinale"),))] == 1
    assert m[("digest_edition_send_seconds_sum", (("list", "matinale"),))] >= 0
    assert m[("digest_edition_build_seconds", (("list", "matinale"),))] > 0
    assert m[("digest_source_fetch_failures", (("list", "matinale"),))] == 0
    assert m[("digest_source_up", (("list", "matinale"), ("source", "homepage")))] == 1
    assert (
        m[("digest_edition_latest_timestamp_seconds", (("list", "matinale"), ("status", "sent")))]
        > 0
    )
    assert m[("digest_scheduler_lease_held", ())] == 1
    assert 0 <= m[("digest_scheduler_lease_age_seconds", ())] < 60
    assert m[("digest_database_up", ())] == 1
    # Nothing personal or secret: no address, no key, no token, no database URL.
    assert "@" not in response.text
    for secret in (SECRET, metrics_config.database_url, "camille", "host-a"):
        assert secret not in response.text


def test_a_failed_source_is_counted(metrics_config, web_db, subscribed, tmp_path):
    import dataclasses

    from digest.edition.build import edition_for_send

    broken = dataclasses.replace(
        metrics_config.sources[0], name="wire", location=str(tmp_path / "missing.txt")
    )
    edition_for_send(
        metrics_config,
        web_db,
        list_name="matinale",
        sources=(*metrics_config.sources, broken),
        now=datetime.fromisoformat("2025-07-01T08:00:00+01:00"),
    )
    c = Client(app_for(metrics_config, web_db))
    try:
        m = scrape(c.get("/metrics").text)
        health = c.get("/healthz").json()
    finally:
        c.close()
    assert m[("digest_source_fetch_failures", (("list", "matinale"),))] == 1
    assert m[("digest_source_up", (("list", "matinale"), ("source", "wire")))] == 0
    assert m[("digest_source_up", (("list", "matinale"), ("source", "homepage")))] == 1
    assert health["lists"][0]["sources_failed"] == 1


def test_metrics_want_the_bearer_token_when_one_is_set(site, metrics_config, web_db):
    from digest.config import load_config

    config = load_config(site, env={"DIGEST_SECRET_KEY": SECRET, "DIGEST_METRICS_TOKEN": TOKEN})
    c = Client(app_for(config, web_db))
    try:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics").headers["www-authenticate"] == "Bearer"
        assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401
        good = c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert good.status_code == 200 and "digest_database_up 1.0" in good.text
        assert TOKEN not in good.text
        assert c.get("/healthz").status_code == 200  # the load balancer needs no token
    finally:
        c.close()


def test_real_server_answers_healthz_and_metrics(metrics_config, web_db, draft):
    app = app_for(metrics_config, web_db)
    with running(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        health = http.get("/digest/healthz")
        assert health.status_code == 200 and health.json()["lists"][0]["edition"] == draft.id
        metrics = http.get("/digest/metrics")
        assert metrics.status_code == 200
        assert scrape(metrics.text)[("digest_database_up", ())] == 1
        assert http.get("/healthz").status_code == 404  # only under the prefix
