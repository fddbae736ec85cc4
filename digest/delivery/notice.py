"""Messages that are not editions: the signup confirmation (the web app), the notice to editors
that a draft waits for their approval (the scheduler).

They go through the same backends as editions (outbox by default), so a one-message job is
built around them: an edition with no stories, rendered text and HTML with no placeholders.
"""

from __future__ import annotations

import html as _html
import secrets
from datetime import UTC, datetime

from digest.config import Config
from digest.delivery.base import Recipient
from digest.errors import DigestError
from digest.locale import direction
from digest.models import Edition, Rendered, Subscriber


def send_notice(
    config: Config,
    backend,
    *,
    to: str,
    subject: str,
    lines: list[str],
    link: str,
    locale: str,
    what: str = "the confirmation email",
) -> None:
    from digest.delivery.job import make_job

    now = datetime.now(UTC)
    text = "\n\n".join([*lines, link]) + "\n"
    body = "".join(f"<p>{_html.escape(line)}</p>" for line in lines)
    html = (
        f'<!doctype html><html lang="{_html.escape(locale.replace("_", "-"))}" '
        f'dir="{direction(locale)}"><meta charset="utf-8">'
        '<body style="font-family:sans-serif;max-width:600px">'
        f"{body}"
        # A URL and the postal address run left to right even in an Arabic message.
        f'<p><a dir="ltr" href="{_html.escape(link)}" style="word-break:break-all">'
        f"{_html.escape(link)}</a></p>"
        f"<p><bdi>{_html.escape(config.site.postal_address)}</bdi></p></body></html>"
    )
    nonce = secrets.token_hex(6)
    edition = Edition(
        id=f"notice-{nonce}",
        list_name="notice",
        subject=subject,
        preheader="",
        locale=locale,
        timezone=config.site.timezone,
        reference_time=now,
        window_start=now,
        ticker=(),
        featured=(),
    )
    job = make_job(
        config,
        edition,
        Rendered(html=html, text=text, subject=subject, preheader="", tokens={}, locale=locale),
    )
    domain = config.sender.email.rsplit("@", 1)[-1]
    recipient = Recipient(
        subscriber=Subscriber(id=0, email=to),
        # Not a list message: the List-Unsubscribe header points at the general page.
        values={"unsubscribe_url": f"{config.site.public_url}/unsubscribe"},
        message_id=f"<{edition.id}@{domain}>",
    )
    try:
        outcome = backend.send_batch(job, [recipient])[0]
    finally:
        backend.close()
    if outcome.status != "sent":
        raise DigestError(f"{what} was not sent: {outcome.detail}")
