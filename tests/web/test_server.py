"""Smoke test of the real server: uvicorn on a free loopback port, spoken to over TCP."""

import httpx

from tests.web.server import running


def test_real_server_answers(app, draft, web_db, subscribed):
    from tests.web.test_subscribers import SIGNER, member

    with running(app) as url:
        with httpx.Client(base_url=url, follow_redirects=False, timeout=10) as http:
            assert http.get("/").headers["location"] == "/digest/"
            assert http.get("/digest/signup").status_code == 200
            assert http.get(f"/digest/editions/{draft.id}").status_code == 303
            token = SIGNER.make(member(web_db, "camille.martin@example.com").id, "matinale")
            response = http.post(f"/digest/u/{token}", data={"List-Unsubscribe": "One-Click"})
            assert response.status_code == 200
            assert http.get("/digest/api/openapi.json").json()["openapi"].startswith("3.")
    assert member(web_db, "camille.martin@example.com").status == "unsubscribed"
