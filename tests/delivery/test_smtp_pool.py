"""Several SMTP connections at once: a real aiosmtpd on loopback; the merging rules with
scripted parts (which part fails first cannot be arranged on a real server)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import datetime

import pytest

from digest.config import SmtpConfig, load_config
from digest.delivery import make_backend
from digest.delivery.base import Outcome
from digest.delivery.job import RecipientFactory, make_job
from digest.delivery.smtp import SmtpBackend
from digest.delivery.smtp_pool import PooledSmtpBackend, smtp_backend
from digest.edition.build import build_edition
from digest.errors import ConfigError, DeliveryAuthError, DeliveryRefused, DeliveryTransient
from digest.models import Subscriber
from digest.tokens import TokenSigner
from tests.conftest import ROOT, SAMPLE_NOW
from tests.delivery.smtp_server import SmtpTestServer


@pytest.fixture(scope="module")
def job():
    config = load_config(ROOT / "digest.toml", env={})
    built = build_edition(config, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW))
    return config, make_job(config, built.edition, built.rendered)


def people(job, n):
    config, job = job
    make = RecipientFactory(config, job, TokenSigner("k" * 40))
    return [
        dataclasses.replace(
            make(Subscriber(id=i + 1, email=f"r{i:03d}@example.com", name=f"R {i}")),
            delivery_id=i + 1,
        )
        for i in range(n)
    ]


def smtp(server, **kw):
    return SmtpConfig(host="127.0.0.1", port=server.port, security="none", timeout=5, **kw)


def test_four_connections_each_reused_everyone_once_in_order(job):
    batch = people(job, 200)
    with SmtpTestServer() as server:
        with smtp_backend(smtp(server, connections=4)) as backend:
            assert isinstance(backend, PooledSmtpBackend) and backend.max_batch == 400
            first = backend.send_batch(job[1], batch[:100])
            second = backend.send_batch(job[1], batch[100:])
        received = server.wait_for(200)
        assert server.connections == 4 and backend.connections_opened == 4
    assert [o.subscriber_id for o in first + second] == [r.subscriber.id for r in batch]
    assert {o.status for o in first + second} == {"sent"}
    assert Counter(a for m in received for a in m.rcpt_tos) == Counter(
        r.subscriber.email for r in batch
    )
    assert len({m.connection for m in received}) == 4


def test_one_connection_is_the_plain_backend_and_the_key_is_checked(job, tmp_path):
    assert type(smtp_backend(SmtpConfig())) is SmtpBackend
    site = tmp_path / "digest.toml"
    text = (ROOT / "digest.toml").read_text(encoding="utf-8")
    site.write_text(text + "\n[smtp]\nconnections = 3\n", encoding="utf-8")
    config = load_config(site, env={})
    assert config.smtp.connections == 3
    assert isinstance(make_backend("smtp", config, out_dir=tmp_path), PooledSmtpBackend)
    site.write_text(text + "\n[smtp]\nconnections = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="smtp.connections"):
        load_config(site, env={})


def test_a_refused_sender_on_every_connection_is_raised_as_one_error(job):
    with SmtpTestServer() as server:
        server.refuse_sender = 451
        with (
            smtp_backend(smtp(server, connections=3)) as backend,
            pytest.raises(DeliveryTransient, match="refused the sender"),
        ):
            backend.send_batch(job[1], people(job, 9))
        assert server.messages == []


class Part:
    def __init__(self, answer):
        self.answer = answer
        self.connections_opened = 0

    def send_batch(self, job, part):
        if isinstance(self.answer, Exception):
            raise self.answer
        return [Outcome(r.subscriber.id, self.answer, "scripted") for r in part]

    def close(self):
        pass


def pool_of(*answers):
    pool = PooledSmtpBackend(SmtpConfig(), connections=len(answers))
    pool.backends = [Part(a) for a in answers]
    return pool


def test_a_part_that_failed_while_another_sent_comes_back_as_retry(job):
    batch = people(job, 9)
    outcomes = pool_of("sent", DeliveryTransient("gone", backend="smtp"), "sent").send_batch(
        job[1], batch
    )
    assert [o.subscriber_id for o in outcomes] == [r.subscriber.id for r in batch]
    assert [o.status for o in outcomes] == ["sent"] * 3 + ["retry"] * 3 + ["sent"] * 3
    assert "gone" in outcomes[3].detail


def test_nothing_handed_over_raises_the_gravest_error(job):
    batch = people(job, 6)
    with pytest.raises(DeliveryAuthError):
        pool_of(
            DeliveryTransient("t", backend="smtp"),
            DeliveryAuthError("a", backend="smtp"),
            DeliveryRefused("r", backend="smtp"),
        ).send_batch(job[1], batch)
    with pytest.raises(DeliveryRefused):  # "retry" and "failed" are answers, not hand-overs
        pool_of("retry", DeliveryRefused("r", backend="smtp")).send_batch(job[1], batch)
    outcomes = pool_of("unknown", DeliveryRefused("r", backend="smtp")).send_batch(job[1], batch)
    assert [o.status for o in outcomes] == ["unknown"] * 3 + ["retry"] * 3


def test_a_batch_smaller_than_the_pool_uses_fewer_connections(job):
    with SmtpTestServer() as server:
        with smtp_backend(smtp(server, connections=4)) as backend:
            outcomes = backend.send_batch(job[1], people(job, 2))
        assert server.connections == 2 and [o.status for o in outcomes] == ["sent", "sent"]
