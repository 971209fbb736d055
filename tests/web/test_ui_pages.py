"""The dashboard's pages as the test client reads them: each a view of the API's answers, with
the headers that keep it to this server, and what a person must see when something is wrong."""

from __future__ import annotations

import re

import pytest

from tests.support.harness import wait_until
from tests.support.training import train

HTML = {"Accept": "text/html,application/xhtml+xml"}
PAGES = ["/ui", "/ui/models/diabetes", "/ui/models/moons/versions/1", "/ui/jobs", "/ui/train"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_html_under_a_strict_policy_with_no_inline_code(client, path):
    resp = client.get(path, headers=HTML)
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    policy = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "unsafe" not in policy and "frame-ancestors 'none'" in policy
    page = resp.get_data(as_text=True)
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/ui/static/ui.js" defer>']
    assert not re.search(r"\sstyle=|\son[a-z]+=|<style", page)
    assert not re.search(r"(href|src)=\"(https?:)?//", page)  # nothing from anywhere else


def test_the_root_leads_to_the_dashboard(client):
    resp = client.get("/")
    assert resp.status_code == 302 and resp.headers["Location"] == "/ui"


def test_the_models_page_shows_what_get_models_answers(client):
    page = client.get("/ui", headers=HTML).get_data(as_text=True)
    for model in client.get("/models").json["models"]:
        assert f'href="/ui/models/{model["name"]}"' in page
    assert "default" in page and "binary" in page


def test_a_current_version_that_cannot_load_is_a_warning_on_both_pages(client, store):
    train(store, epochs=50)  # diabetes v2, current, then damaged
    weights = store.root / "diabetes" / "2" / "weights.npz"
    weights.write_bytes(weights.read_bytes()[:-10] + b"0123456789")
    ready = lambda: client.get("/health/ready").json["status"] == "degraded"  # noqa: E731
    wait_until(ready, 10, what="the app to refuse version 2")
    home = client.get("/ui", headers=HTML).get_data(as_text=True)
    assert "The service is degraded." in home and "Cannot load the current version" in home
    page = client.get("/ui/models/diabetes", headers=HTML)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Cannot load the current version." in text and "version 2 cannot be loaded" in text
    assert "Version 1" in text  # what the workers still serve
    assert client.get("/ui/models/diabetes/versions/2", headers=HTML).status_code == 503


def test_unknown_things_are_an_html_page_for_a_browser_and_json_otherwise(client):
    for path in ("/ui/models/nope", "/ui/models/diabetes/versions/9", "/ui/jobs/" + "0" * 32):
        page = client.get(path, headers=HTML)
        assert page.status_code == 404 and page.mimetype == "text/html", path
        assert "<h1>Not found</h1>" in page.get_data(as_text=True)
        assert client.get(path).json["code"] == "not_found"
