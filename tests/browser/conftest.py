"""A real browser on the dashboard: Debian's chromium driven by Playwright, against real gunicorn
and a real trainer on 127.0.0.1.

`browser_page` records what the tests assert on (tests/browser/helpers.py `Seen`): console
errors, uncaught page errors, dialogs, and every request the page makes (any not to the
server's own origin is aborted and kept). Screenshots go to the test run's folder (`shots`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.harness import Gunicorn, start_trainer, train_cli

from .helpers import ARGS, CHROMIUM, DESKTOP, ENV, Seen


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    """gunicorn (2 workers) and a trainer on one data directory, the default model trained."""
    if not CHROMIUM.exists():
        pytest.fail("chromium is missing: run scripts/install_system_deps.sh")
    data = tmp_path_factory.mktemp("dashboard")
    train_cli(data / "models", "--epochs", "300")
    api = Gunicorn(data, data / "gunicorn.log", workers=2, **ENV)
    trainer = start_trainer(data, data / "trainer.log", **ENV)
    try:
        api.wait_ready()
        yield api
    finally:
        trainer.stop()
        api.stop()
        assert "Traceback" not in trainer.output(), trainer.output()[-3000:]


@pytest.fixture(scope="package")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return folder


@pytest.fixture
def browser_page(chromium, stack, tmp_path):
    """A fresh browser context (its own storage) and page, recorded in `page.seen`."""
    context = chromium.new_context(viewport=DESKTOP, accept_downloads=True, base_url=stack.url)
    seen = Seen(stack.url)

    def route(route):
        url = route.request.url
        if url.startswith(stack.url + "/"):
            route.continue_()
        else:
            seen.blocked.append(url)
            route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and seen.console.append(m.text))
    page.on("pageerror", lambda e: seen.errors.append(str(e)))
    page.on("request", lambda r: seen.requests.append(r.url))

    def dialog(d):
        seen.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    page.seen = seen
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()
