"""digest's own open pixel and click redirect: off by default, signed, never an open redirect,
unique clicks counted, Apple Mail Privacy Protection's pre-fetches kept apart."""

import html as html_lib
import re
from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from digest.config import load_config
from digest.errors import ConfigError
from digest.store import readers
from digest.store.tracking import is_machine_open, record_open
from digest.web.app import create_app
from tests.web.conftest import SECRET, Client
from tests.web.stats_helpers import send

CHROME = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.0"


def emails(out):
    for path in sorted(out.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=default)
        yield (
            message.get_body(("html",)).get_content(),
            message.get_body(("plain",)).get_content(),
        )


@pytest.fixture
def tracking_config(site, web_config):
    with open(site, "a", encoding="utf-8") as fh:
        # prefetch_seconds = 0: the test's fetches come at once, yet are a reader's.
        fh.write("\n[tracking]\nopens = true\nclicks = true\nprefetch_seconds = 0\n")
    return load_config(site, env={"DIGEST_SECRET_KEY": SECRET})


@pytest.fixture
def tracked(tracking_config, web_db, draft, tmp_path):
    rows = send(tracking_config, web_db, draft, tmp_path / "out")
    client = Client(create_app(tracking_config, db=web_db))
    yield client, list(emails(tmp_path / "out")), rows
    client.close()


def links(html):
    return [html_lib.unescape(u) for u in re.findall(r'href="([^"]*/c/[^"]+)"', html)]


def pixel(html):
    return re.search(r'<img src="([^"]*/o/[^"]+)"', html).group(1)


def test_off_by_default(web_config, web_db, draft, tmp_path):
    assert not web_config.tracking.opens and not web_config.tracking.clicks
    send(web_config, web_db, draft, tmp_path / "out")
    for html, _ in emails(tmp_path / "out"):
        assert "/digest/c/" not in html and "/digest/o/" not in html


def test_each_email_has_its_own_signed_links_and_the_text_part_none(tracked, draft):
    _, mails, rows = tracked
    assert len(mails) == len(rows)
    first, second = mails[0][0], mails[1][0]
    assert links(first) and len(links(first)) == len(links(second))
    assert links(first)[0] != links(second)[0]  # the reader's part differs
    # The same story's signature (made once, at render) is in both.
    assert links(first)[0].split("/")[-1] == links(second)[0].split("/")[-1]
    story = parse_qs(urlsplit(links(first)[0]).query)["u"][0]
    # The sample's stories have no links of their own: the site's link is the one tracked.
    assert story in {s.url for s in (*draft.edition.featured, *draft.edition.ticker)} | {
        "https://www.example.ma"
    }
    assert "/u/" in first  # the unsubscribe link is left alone
    assert "/digest/c/" not in mails[0][1]  # the text part keeps readable links


def test_a_click_redirects_to_the_signed_url_and_counts_once_per_reader(tracked, web_db, draft):
    client, mails, _ = tracked
    link = links(mails[0][0])[0]
    story = parse_qs(urlsplit(link).query)["u"][0]
    for _ in range(2):
        response = client.get(link)
        assert response.status_code == 302 and response.headers["location"] == story
    assert client.get(links(mails[1][0])[0]).status_code == 302
    f = readers.edition_figures(web_db, draft.id)
    assert (f.clicks, f.total_clicks) == (2, 3)
    assert f.click_through == pytest.approx(2 / f.delivered)
    assert readers.link_clicks(web_db, draft.id)[0] == readers.LinkClicks(story, 3, 2)


def test_tampered_links_get_the_404_page_and_no_redirect(tracked, web_db, draft):
    client, mails, _ = tracked
    link = links(mails[0][0])[0]
    path, query = link.split("?", 1)
    reader, sig = path.split("/")[-2:]
    prefix = path.rsplit("/", 2)[0]
    evil = quote("https://evil.example/phish", safe="")
    for bad in (
        f"{path}?u={evil}",  # another URL under a real signature
        f"{prefix}/{reader}/{'A' * len(sig)}?{query}",  # a forged signature
        f"{prefix}/{reader[:-2]}xx/{sig}?{query}",  # another reader
        f"{prefix}/{reader}/{sig}",  # no URL at all
        f"{path}?u={quote('javascript:alert(1)', safe='')}",
    ):
        response = client.get(bad)
        assert response.status_code == 404, bad
        assert "location" not in response.headers
        assert "<html" in response.text
    assert readers.edition_figures(web_db, draft.id).total_clicks == 0


def test_the_pixel_answers_a_gif_never_cached_and_records_an_open(tracked, web_db, draft):
    client, mails, _ = tracked
    response = client.get(pixel(mails[0][0]), headers={"User-Agent": CHROME})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif" and response.content[:6] == b"GIF89a"
    assert "no-store" in response.headers["cache-control"]
    client.get(pixel(mails[0][0]), headers={"User-Agent": CHROME})
    # Apple's proxy: the bare user agent, a machine's open.
    client.get(pixel(mails[1][0]), headers={"User-Agent": "Mozilla/5.0"})
    f = readers.edition_figures(web_db, draft.id)
    assert (f.opens, f.machine_opens) == (1, 1)
    assert client.get(pixel(mails[0][0])[:-3] + "abc").status_code == 404


def test_a_fetch_within_seconds_of_the_send_is_a_machine_open(web_db, draft, sent_rows):
    row, sent_at = sent_rows
    assert is_machine_open(CHROME, sent_at, sent_at + timedelta(seconds=3), 60)
    assert not is_machine_open(CHROME, sent_at, sent_at + timedelta(minutes=5), 60)
    assert is_machine_open(" Mozilla/5.0 ", None, sent_at, 60)
    record_open(web_db, row, draft.id, user_agent=CHROME, prefetch_seconds=60, now=sent_at)
    later = sent_at + timedelta(hours=1)
    record_open(web_db, row, draft.id, user_agent=CHROME, prefetch_seconds=60, now=later)
    f = readers.edition_figures(web_db, draft.id)
    assert (f.opens, f.machine_opens) == (1, 1)
    assert not record_open(web_db, 10**6, draft.id, user_agent=CHROME, prefetch_seconds=60)


@pytest.fixture
def sent_rows(web_config, web_db, draft, tmp_path):
    from sqlalchemy import select

    from digest.store import schema as t

    rows = send(web_config, web_db, draft, tmp_path / "out")
    with web_db.read() as conn:
        at = conn.scalar(select(t.deliveries.c.updated_at).where(t.deliveries.c.id == rows[0]))
    return rows[0], at


@pytest.mark.parametrize(
    "table, message",
    [
        ('opens = "yes"', "key 'tracking.opens': must be bool, not str"),
        ("prefetch_seconds = -1", "key 'tracking.prefetch_seconds': must be 0 or more"),
        ("pixel = true", "pixel"),
    ],
)
def test_the_tracking_keys_are_checked(site, table, message):
    with open(site, "a", encoding="utf-8") as fh:
        fh.write(f"\n[tracking]\n{table}\n")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(site, env={})


@pytest.mark.parametrize(
    "backend, tracked_here", [("outbox", True), ("smtp", True), ("sendgrid", False)]
)
def test_sendgrid_sends_are_left_to_sendgrids_own_tracking(
    tracking_config, web_db, draft, backend, tracked_here
):
    from digest.delivery.base import BackendInfo
    from digest.delivery.loop import Sender
    from digest.render.tracking import READER
    from tests.web.test_subscribers import SIGNER

    class Named:
        info = BackendInfo(name=backend, destination="test")
        max_batch = 10

    sender = Sender(tracking_config, web_db, draft, Named(), signer=SIGNER)
    assert (READER in sender.job.personalizer.keys) is tracked_here


def test_the_reader_token_stays_out_of_the_logs():
    from digest.web.logredact import redact

    line = '"GET /digest/c/1f.matinale-2025-07-01.abcdefghijk/sigsigsigsig?u=https%3A%2F%2Fx HTTP/1.1" 302'
    assert "matinale-2025-07-01.abc" not in redact(line) and "/c/[token]/" in redact(line)
    assert redact("GET /digest/o/2a.matinale-2025-07-01.xyzxyzxyz") == "GET /digest/o/[token]"


def test_with_opens_off_the_pixel_of_an_earlier_send_records_nothing(
    tracked, web_config, web_db, draft
):
    _, mails, _ = tracked
    off = Client(create_app(web_config, db=web_db))  # [tracking] opens = false again
    try:
        response = off.get(pixel(mails[0][0]), headers={"User-Agent": CHROME})
        assert response.status_code == 200 and response.content[:6] == b"GIF89a"
    finally:
        off.close()
    assert readers.edition_figures(web_db, draft.id).opens == 0


def test_a_tracked_send_renders_nothing_again(
    tracking_config, web_db, draft, tmp_path, monkeypatch
):
    import digest.render.pipeline as pipeline

    def no_render(*a, **kw):
        raise AssertionError("rendered during a send")

    monkeypatch.setattr(pipeline, "mjml2html", no_render)
    monkeypatch.setattr(pipeline, "Premailer", no_render)
    rows = send(tracking_config, web_db, draft, tmp_path / "out")
    assert len(list(emails(tmp_path / "out"))) == len(rows)
    html = next(emails(tmp_path / "out"))[0]
    assert "/digest/o/" in html and "/digest/c/" in html
