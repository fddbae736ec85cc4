"""Delivery backends: outbox (local .eml files), smtp (a relay), sendgrid (v3 API).

Each only builds, posts and parses; the one send loop lives in digest/delivery/loop.py.
"""

from __future__ import annotations

from pathlib import Path

from digest.config import Config

BACKENDS = ("outbox", "smtp", "sendgrid")


def make_backend(name: str, config: Config, *, out_dir: Path):
    if name == "outbox":
        from digest.delivery.outbox import OutboxBackend

        return OutboxBackend(out_dir)
    if name == "smtp":
        from digest.delivery.smtp_pool import smtp_backend

        return smtp_backend(config.smtp)
    if name == "sendgrid":
        from digest.delivery.sendgrid import SendGridBackend

        return SendGridBackend(config.sendgrid)
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
