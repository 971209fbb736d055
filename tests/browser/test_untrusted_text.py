"""Text from a CSV is data, never markup: a model trained from a file whose column names,
categories and labels are script and handler payloads shows them as text on every page, and
nothing of theirs runs (escaping does this; the Content-Security-Policy would also refuse it,
and would log a console error, which the test also forbids)."""

from __future__ import annotations

import csv
import io

import pytest

from tests.support.harness import http

from .helpers import give_token, shoot

pytestmark = pytest.mark.process

COLOUR = "colour<script>window.__xss='column'</script>"
SIZE = "size\" onmouseover=\"window.__xss='attribute'"
NAME = "name<img src=x onerror=\"window.__xss='identifier'\">"
TARGET = "label</title><script>window.__xss='target'</script>"
CATEGORIES = ['<img src=x onerror="window.__xss=\'category\'">', '"><svg onload=window.__xss=1>',
              "'-alert(1)-'"]  # fmt: skip
LABELS = ["<b>yes</b>", "no<iframe src=javascript:window.__xss=2>"]
# What must never be in the page: a handler attribute, a script of theirs, their elements.
INERT = """() => ({
  xss: window.__xss === undefined ? null : String(window.__xss),
  handlers: [...document.querySelectorAll('*')].flatMap(e =>
    [...e.attributes].filter(a => a.name.startsWith('on')).map(a => e.tagName + ' ' + a.name)),
  scripts: [...document.scripts].map(s => s.getAttribute('src')),
  elements: document.querySelectorAll('img, iframe, b, object, embed').length,
})"""


def payload_csv(rows: int = 60) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([COLOUR, SIZE, NAME, TARGET])
    for i in range(rows):
        label = LABELS[0] if i % 2 else LABELS[1]
        writer.writerow([CATEGORIES[i % 3], f"{i % 2 + (i % 7) / 10:.2f}", f"person {i}", label])
    return out.getvalue()


def assert_inert(page, where: str) -> None:
    state = page.evaluate(INERT)
    assert state == {"xss": None, "handlers": [], "scripts": ["/ui/static/ui.js"], "elements": 0}, (
        where,
        state,
    )


def test_payloads_from_a_csv_are_shown_as_text_and_never_run(browser_page, stack, shots, tmp_path):
    page, seen = browser_page, browser_page.seen
    data = tmp_path / "payloads.csv"
    data.write_text(payload_csv())

    # The train page: the identifier column's error names it, as text; then it is left out.
    page.goto("/ui/train")
    page.fill("#train-model", "xss")
    page.set_input_files("#train-file", str(data))
    give_token(page)
    alert = page.locator("#messages .notice")
    alert.wait_for()
    assert NAME in alert.inner_text() and "looks like an identifier" in alert.inner_text()
    assert page.locator("#train-target").input_value() == TARGET
    assert_inert(page, "train page, error")
    page.get_by_label(NAME).check()
    page.locator("#train-preview").wait_for(state="visible")
    assert page.locator("#train-features th").all_inner_texts() == [COLOUR, SIZE]
    assert_inert(page, "train page, preview")
    shoot(page, shots, "payload-train")
    page.click("#train-submit")
    page.wait_for_url("**/ui/jobs/*")
    page.locator('[data-job-status="succeeded"]').wait_for(timeout=60_000)
    assert_inert(page, "job")

    # Every page that shows the model's columns, categories or labels.
    for url in ["/ui", "/ui/jobs", "/ui/models/xss", "/ui/models/xss/versions/1"]:
        page.goto(url)
        assert_inert(page, url)
    assert COLOUR in page.locator("table").nth(1).inner_text()  # the features table
    options = page.locator("#try-form select").first.locator("option").all_inner_texts()
    assert options == sorted(CATEGORIES)
    shoot(page, shots, "payload-model")

    # Try it with a payload category: the answer's label is a payload too, shown as text.
    page.select_option("#try-form select", label=CATEGORIES[0])
    page.click("#try-form button[type=submit]")
    page.locator("#try-result .result-label").wait_for()
    assert page.locator("#try-result .result-label").inner_text() in LABELS
    assert_inert(page, "try it")

    # Score the training file itself: the preview of the answer shows payload cells as text.
    page.set_input_files("#score-file", str(data))
    page.click("#score-form button[type=submit]")
    page.locator("#score-result pre").wait_for()
    assert COLOUR in page.locator("#score-result pre").inner_text()
    assert_inert(page, "score a file")

    # A payload as a model name in a URL is refused without echoing it.
    for url in ["/ui/models/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E", "/ui/jobs/%3Cb%3Ex"]:
        page.goto(url)
        assert "onerror" not in page.content() and "&lt;" not in page.content()
        assert page.locator("h1").inner_text() == "Not found"
        assert_inert(page, url)
    assert http("GET", stack.url + "/models/xss")[2]["features"][0]["name"] == COLOUR

    assert seen.unexpected_console(allowed={404, 422}) == [] and seen.errors == []
    assert seen.dialogs == [] and seen.blocked == []
