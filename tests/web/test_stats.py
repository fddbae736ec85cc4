"""What readers did: figures from the ledger and signed SendGrid events, the pages, the roles."""

import csv
import io
import re

import pytest
from sqlalchemy import select

from digest.store import readers
from digest.store import schema as t
from tests.web.conftest import PASSWORD, PLAIN_EDITOR
from tests.web.stats_helpers import STORY_A, STORY_B, post_events, readers_events, send


@pytest.fixture
def sent(web_config, web_db, draft, tmp_path):
    return send(web_config, web_db, draft, tmp_path / "out")


@pytest.fixture
def with_events(client, webhook_key, draft, sent):
    post_events(
        lambda body, headers: client.post("/hooks/sendgrid", content=body, headers=headers),
        webhook_key,
        readers_events(draft.id, sent),
    )
    return sent


def test_the_figures_of_an_edition(web_db, draft, with_events):
    f = readers.edition_figures(web_db, draft.id)
    assert f.sent == len(with_events) >= 5
    assert f.delivered == 4  # SendGrid's delivered events, not the ledger's hand-overs
    assert f.opens == 2  # r0 twice, r2 once; r1's was Apple's pre-fetch
    assert f.machine_opens == 1
    assert (f.clicks, f.total_clicks) == (2, 3)
    assert f.click_through == 0.5
    assert (f.unsubscribes, f.bounces, f.complaints) == (1, 1, 1)
    assert readers.link_clicks(web_db, draft.id) == [
        readers.LinkClicks(STORY_A, 2, 1),
        readers.LinkClicks(STORY_B, 1, 1),
    ]
    [trend] = [readers.trend(web_db, name) for name in readers.list_names(web_db)]
    assert [x.edition_id for x in trend] == [draft.id]


def test_without_delivered_events_the_ledger_counts(web_db, draft, sent):
    f = readers.edition_figures(web_db, draft.id)
    assert f.delivered == f.sent == len(sent) and f.opens == 0 and f.click_through == 0
    assert readers.edition_figures(web_db, "nothing-2026-01-01") is None


def test_an_admin_reads_the_statistics_pages(editor, draft, with_events):
    page = editor.get("/stats")
    assert page.status_code == 200, page.text
    assert "<svg" in page.text and "<title id=" in page.text and "<desc id=" in page.text
    assert "Apple Mail Privacy Protection" in page.text
    assert f"/stats/{draft.id}" in page.text
    one = editor.get(f"/stats/{draft.id}")
    assert one.status_code == 200
    assert "Clicks per story" in one.text and STORY_A in one.text
    assert "50.0 %" in one.text  # click-through
    assert editor.get("/stats/nothing-2026-01-01").status_code == 404


def test_the_csv_exports(editor, draft, with_events):
    response = editor.get("/stats.csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["edition"] for r in rows] == [draft.id]
    assert rows[0]["unique_opens"] == "2" and rows[0]["click_through"] == "0.5000"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", rows[0]["sent_at"])
    one = editor.get(f"/stats/{draft.id}.csv").text.splitlines()
    assert one[0].startswith("edition,list,sent_at") and f"{STORY_A},2,1" in one


@pytest.mark.parametrize("path", ["/stats", "/stats.csv", "/stats/{id}", "/stats/{id}.csv"])
def test_an_editor_is_refused_and_the_refusal_audited(client, web_db, draft, path):
    assert client.login(PLAIN_EDITOR, PASSWORD).status_code == 303
    target = path.format(id=draft.id)
    assert client.get(target).status_code == 403
    with web_db.read() as conn:
        row = conn.execute(
            select(t.audit_log.c.actor, t.audit_log.c.target).where(
                t.audit_log.c.action == "refused"
            )
        ).first()
    assert row == (PLAIN_EDITOR, target)


def test_not_logged_in_goes_to_the_login_page(client):
    response = client.get("/stats")
    assert response.status_code == 303 and response.headers["location"].endswith("/login")


def test_the_edition_page_links_its_statistics(editor, draft, with_events):
    assert f'href="/digest/stats/{draft.id}' in editor.get(f"/editions/{draft.id}").text


def test_the_chart_draws_thirty_editions_and_escapes_what_it_shows():
    from digest.web.chart import svg

    figures = [
        readers.Figures(f"m-{i}", "m", "s", None, 10, 0, 10, i % 10, 0, i % 3, i % 3, 0, 0, 0)
        for i in range(30)
    ]
    drawn = svg(
        figures,
        chart_id="c",
        title="<Matin> & co",
        description="d",
        legend=("Open rate", "Click-through"),
        label=lambda f: f.edition_id,
    )
    assert drawn.count("<rect") == 30 * 2 + 2  # two bars an edition, two legend keys
    assert "&lt;Matin&gt; &amp; co" in drawn and "<Matin>" not in drawn
    assert ">100%</text>" in drawn  # 90 % opens: the axis goes to 100 %


def test_a_finished_sends_ledger_is_counted_once_until_another_run(web_db, draft, sent):
    from sqlalchemy import update

    assert readers.edition_figures(web_db, draft.id).failed == 0
    with web_db.write() as conn:
        conn.execute(
            update(t.deliveries).where(t.deliveries.c.id == sent[0]).values(status="failed")
        )
    assert readers.edition_figures(web_db, draft.id).failed == 0  # not read again
    with web_db.write() as conn:  # another run (a retry) finishes
        conn.execute(
            update(t.editions).where(t.editions.c.id == draft.id).values(finished_at=t.utcnow())
        )
    assert readers.edition_figures(web_db, draft.id).failed == 1


def test_the_pages_read_in_french_and_arabic(editor, draft, with_events):
    ar = editor.get("/stats?lang=ar").text
    assert '<html lang="ar" dir="rtl">' in ar and "الإحصاءات" in ar and "Apple" in ar
    fr = editor.get(f"/stats/{draft.id}?lang=fr").text
    assert "Clics par article" in fr and "Ouvertures uniques" in fr
    assert "1 juil." in editor.get("/stats?lang=fr").text  # the chart's day, in French
