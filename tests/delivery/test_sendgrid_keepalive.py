"""The SendGrid backend's requests over one kept-alive connection (digest/delivery/keepalive.py),
through the real ``sendgrid`` library to the loopback server, which counts the connections."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime

import pytest

from digest.config import SendGridConfig, load_config
from digest.delivery.job import RecipientFactory, make_job
from digest.delivery.keepalive import IDLE_SECONDS
from digest.delivery.sendgrid import SendGridBackend
from digest.edition.build import build_edition
from digest.errors import DeliveryRefused, DeliveryTransient, DeliveryUncertain
from digest.models import Subscriber
from digest.tokens import TokenSigner
from tests.conftest import ROOT, SAMPLE_NOW
from tests.delivery.sendgrid_server import SendGridServer

KEY = "SG.keepalive-test-key"
SIGNER = TokenSigner("k" * 40)


@pytest.fixture(scope="module")
def job():
    config = load_config(ROOT / "digest.toml", env={})
    built = build_edition(config, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW))
    return config, make_job(config, built.edition, built.rendered)


@pytest.fixture
def batch(job):
    config, the_job = job
    factory = RecipientFactory(config, the_job, SIGNER)
    made = iter(range(1, 10**6))

    def make(n):
        out = []
        for _ in range(n):
            i = next(made)
            sub = Subscriber(id=i, email=f"reader{i}@example.com", name="")
            out.append(dataclasses.replace(factory(sub), delivery_id=i))
        return out

    return make


@pytest.fixture
def server():
    with SendGridServer(api_key=KEY) as srv:
        yield srv


def backend(server, timeout=5.0):
    return SendGridBackend(SendGridConfig(api_host=server.url, api_key=KEY, timeout=timeout))


def statuses(outcomes):
    return [o.status for o in outcomes]


def test_many_batches_go_over_one_connection(server, job, batch):
    be = backend(server)
    for _ in range(5):
        assert statuses(be.send_batch(job[1], batch(3))) == ["sent"] * 3
    be.close()
    assert server.attempts == 5
    assert server.connections == 1
    assert len(server.delivered_addresses()) == 15
    assert server.violations == []


def test_an_error_answer_keeps_the_connection(server, job, batch):
    be = backend(server)
    server.script(["400", "500"])
    with pytest.raises(DeliveryRefused, match=r"\(400\)"):
        be.send_batch(job[1], batch(1))
    with pytest.raises(DeliveryTransient, match=r"\(500\)"):
        be.send_batch(job[1], batch(1))
    assert statuses(be.send_batch(job[1], batch(1))) == ["sent"]
    assert server.connections == 1


def test_a_connection_the_server_closed_is_not_written_to(server, job, batch):
    # The server closes after its answer without saying so (an idle timeout): the next batch
    # must go over a new connection and be sent, not be written to the dead one and lost.
    be = backend(server)
    server.script(["ok-then-close"])
    assert statuses(be.send_batch(job[1], batch(2))) == ["sent"] * 2
    time.sleep(0.2)  # the server's close has reached this end
    assert statuses(be.send_batch(job[1], batch(2))) == ["sent"] * 2
    assert server.connections == 2
    assert len(server.delivered_addresses()) == 4


def test_a_connection_idle_too_long_is_not_reused(server, job, batch):
    now = [1000.0]
    be = backend(server)
    be.keep_alive.clock = lambda: now[0]
    be.send_batch(job[1], batch(1))
    now[0] += IDLE_SECONDS / 2
    be.send_batch(job[1], batch(1))
    assert server.connections == 1
    now[0] += IDLE_SECONDS + 1
    be.send_batch(job[1], batch(1))
    assert server.connections == 2


def test_after_a_drop_the_next_batch_reconnects(server, job, batch):
    be = backend(server)
    be.send_batch(job[1], batch(1))
    server.script(["drop-after-accept"])
    with pytest.raises(DeliveryUncertain, match="may or may not have been accepted"):
        be.send_batch(job[1], batch(1))
    assert statuses(be.send_batch(job[1], batch(1))) == ["sent"]
    assert server.connections == 2


def test_a_timeout_on_a_kept_connection_is_uncertain_and_the_next_reconnects(server, job, batch):
    be = backend(server, timeout=0.5)
    be.send_batch(job[1], batch(1))
    server.script(["hang:3"])
    with pytest.raises(DeliveryUncertain, match="did not answer within 0.5 s"):
        be.send_batch(job[1], batch(1))
    assert statuses(be.send_batch(job[1], batch(1))) == ["sent"]
    assert server.connections == 2


def test_a_proxy_in_the_environment_is_honoured_as_urllib_honours_it(
    server, job, batch, monkeypatch
):
    # A proxy that refuses: urllib's own opener goes to it and fails before anything was sent;
    # straight to the server, the batch would have gone.
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("no_proxy", "")
    be = backend(server)
    with pytest.raises(DeliveryTransient, match="could not reach SendGrid"):
        be.send_batch(job[1], batch(1))
    assert server.attempts == 0
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    assert statuses(be.send_batch(job[1], batch(1))) == ["sent"]


def test_close_closes_the_connection(server, job, batch):
    be = backend(server)
    be.send_batch(job[1], batch(1))
    be.close()
    assert be.keep_alive.connections == 1
    be.send_batch(job[1], batch(1))  # a closed backend still works: it connects again
    assert server.connections == 2
