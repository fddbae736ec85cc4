"""The floor of the SendGrid path: what sending an edition must cost at the very least.

The same mail as ``digest send --backend sendgrid`` (the same signed tokens, greetings,
List-Unsubscribe headers, rendered parts and request layout: one request per 1,000 members,
each value of a personalization once), with everything the project adds taken away: no claim
objects, no checks, no retries, no pacing, no library. The requests go over ONE keep-alive
``http.client`` connection, bodies serialized once with ``json.dumps``; the ledger is written in
one statement (an INSERT ... SELECT of every member as ``sent`` once the last answer came).

``crash_safe=True`` is the floor of a sender that can stop anywhere: the ledger filled in one
statement first, each batch committed ``sending`` before it is posted, then one statement marks
them all ``sent``.

Not a sender (no suppressions, no errors handled, no partial answers, and names are taken to
need no HTML escaping, as the benchmark's do): a yardstick for bench/bench_send.py, which
prints the project's time against it.
"""

from __future__ import annotations

import html
import http.client
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import text

from digest.config import Config
from digest.delivery.message import list_id as make_list_id
from digest.delivery.message import list_unsubscribe
from digest.render.strings import Greeter
from digest.store.db import Database
from digest.store.editions import StoredEdition
from digest.tokens import TokenSigner

BATCH = 1000


@dataclass(frozen=True)
class FloorRun:
    seconds: float
    requests: int
    sent: int


def floor_send(
    config: Config,
    db: Database,
    stored: StoredEdition,
    signer: TokenSigner,
    url: str,
    api_key: str,
    *,
    crash_safe: bool = False,
) -> FloorRun:
    """Send ``stored`` to every active member of its list; return the wall time."""
    started = time.perf_counter()
    edition, rendered = stored.edition, stored.rendered
    public = config.site.public_url
    greet = Greeter(edition.locale)
    mailto = config.sender.unsubscribe_mailto
    tokens = rendered.tokens
    link = f"__dg{secrets.token_hex(8)}k_link__"
    greeting = tokens["html"]["greeting"]
    # Once per send: the links become a prefix and one token; text greets with the HTML token.
    html_part = rendered.html.replace(
        tokens["html"]["unsubscribe_url"], html.escape(f"{public}/u/") + link
    ).replace(tokens["html"]["preferences_url"], html.escape(f"{public}/p/") + link)
    text_part = (
        rendered.text.replace(tokens["text"]["unsubscribe_url"], f"{public}/u/{link}")
        .replace(tokens["text"]["preferences_url"], f"{public}/p/{link}")
        .replace(tokens["text"]["greeting"], greeting)
    )
    head = {
        "from": {"email": config.sender.email, "name": config.sender.name or config.site.name},
        "subject": rendered.subject,
        "content": [
            {"type": "text/plain", "value": text_part},
            {"type": "text/html", "value": html_part},
        ],
        "headers": {
            "List-Id": make_list_id(
                config.list_config(edition.list_name).title, edition.list_name, config.site.url
            )
        },
        "custom_args": {"edition_id": edition.id, "list": edition.list_name},
        "categories": [edition.list_name, edition.id],
    }
    params = {"e": stored.id, "l": stored.list_id}
    with db.engine.connect() as conn:
        if crash_safe:
            with conn.begin():
                conn.execute(
                    text(
                        "INSERT INTO deliveries (edition_id, subscriber_id, status, attempts, "
                        "updated_at) SELECT :e, subscriber_id, 'pending', 0, CURRENT_TIMESTAMP "
                        "FROM memberships WHERE list_id = :l AND status = 'active' "
                        "ORDER BY subscriber_id"
                    ),
                    params,
                )
            with conn.begin():
                rows = conn.execute(
                    text(
                        "SELECT d.id, s.id, s.email, s.name FROM deliveries d JOIN subscribers s "
                        "ON s.id = d.subscriber_id WHERE d.edition_id = :e ORDER BY d.id"
                    ),
                    params,
                ).all()
        else:
            with conn.begin():
                rows = conn.execute(
                    text(
                        "SELECT 0, s.id, s.email, s.name FROM memberships m JOIN subscribers s "
                        "ON s.id = m.subscriber_id WHERE m.list_id = :l AND m.status = 'active' "
                        "ORDER BY s.id"
                    ),
                    params,
                ).all()
        where = urlsplit(url)
        http_conn = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
        headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json; charset=utf-8",
        }
        list_name = edition.list_name
        sign = signer.make
        requests = 0
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            if crash_safe:
                with conn.begin():
                    conn.execute(
                        text(
                            "UPDATE deliveries SET status = 'sending', attempts = attempts + 1 "
                            "WHERE edition_id = :e AND id BETWEEN :a AND :b"
                        ),
                        {"e": stored.id, "a": batch[0][0], "b": batch[-1][0]},
                    )
            personalizations = []
            for delivery_id, sid, email, name in batch:
                token = sign(sid, list_name)
                to = {"email": email, "name": name} if name else {"email": email}
                p = {
                    "to": [to],
                    "substitutions": {greeting: greet(name), link: token},
                    "headers": {
                        "List-Unsubscribe": list_unsubscribe(f"{public}/u/{token}", mailto),
                        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                    },
                }
                if crash_safe:
                    p["custom_args"] = {"delivery_id": str(delivery_id)}
                personalizations.append(p)
            body = json.dumps(
                {"personalizations": personalizations, **head}, separators=(",", ":")
            ).encode()
            http_conn.request("POST", "/v3/mail/send", body=body, headers=headers)
            response = http_conn.getresponse()
            response.read()
            requests += 1
            if response.status != 202:
                raise RuntimeError(f"the floor's request was refused ({response.status})")
        http_conn.close()
        with conn.begin():
            if crash_safe:
                conn.execute(
                    text(
                        "UPDATE deliveries SET status = 'sent', updated_at = CURRENT_TIMESTAMP "
                        "WHERE edition_id = :e AND status = 'sending'"
                    ),
                    params,
                )
            else:
                conn.execute(
                    text(
                        "INSERT INTO deliveries (edition_id, subscriber_id, status, attempts, "
                        "updated_at) SELECT :e, subscriber_id, 'sent', 1, CURRENT_TIMESTAMP "
                        "FROM memberships WHERE list_id = :l AND status = 'active'"
                    ),
                    params,
                )
    return FloorRun(time.perf_counter() - started, requests, len(rows))
