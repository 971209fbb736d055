"""The dashboard in a real browser, as a person uses it: upload a CSV and train, watch the job,
see the new version and its curve, promote and roll back, predict with the form, score a file,
and meet a wrong token. Nothing leaves 127.0.0.1, no console error, and the token is in no
cookie, URL or localStorage afterwards."""

from __future__ import annotations

import csv
import io
import json
import time

import numpy as np
import pytest

from tests.support.harness import http

from .helpers import TOKEN, give_token, shoot

pytestmark = pytest.mark.process

ISLANDS = ["Biscoe", "Dream", "Torgersen"]


def birds(n: int, seed: int = 0) -> str:
    """A small learnable table: species follows island and mass; text, gaps and numbers."""
    rng = np.random.default_rng(seed)
    lines = ["island,sex,mass,species"]
    for i in range(n):
        k = i % 3
        sex = ["male", "female", ""][int(rng.integers(3))]
        lines.append(f"{ISLANDS[k]},{sex},{3000 + 900 * k + rng.normal(0, 150):.1f},s{k}")
    return "\n".join(lines) + "\n"


def train_from_the_page(
    page, csv_path, model: str, promote: str, epochs: int = 60, hidden: str = ""
) -> None:
    page.goto("/ui/train")
    page.fill("#train-model", model)
    page.click("summary")  # the options
    page.fill("#train-epochs", str(epochs))
    page.fill("#train-hidden", hidden)
    page.select_option("#train-promote", promote)
    page.set_input_files("#train-file", str(csv_path))


def watch_curves(page, timeout: float = 60) -> list[str]:
    """Return the distinct curves the job page drew while the job ran, until it ended."""
    state = """() => [document.querySelector('[data-job-status]')?.dataset.jobStatus,
                      document.querySelector('#job polyline')?.getAttribute('points')]"""
    curves: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, points = page.evaluate(state)
        if status not in ("queued", "running"):
            return curves
        if status == "running" and points and points not in curves:
            curves.append(points)
        page.wait_for_timeout(100)
    raise AssertionError("the job did not end")


def wait_for_job(page) -> str:
    page.wait_for_url("**/ui/jobs/*")
    page.locator('[data-job-status="succeeded"]').wait_for(timeout=60_000)
    return page.url.rsplit("/", 1)[1]


def test_train_watch_promote_roll_back_predict_and_score(browser_page, stack, shots, tmp_path):
    page, seen = browser_page, browser_page.seen
    data = tmp_path / "birds.csv"
    data.write_text(birds(150))

    page.goto("/ui")
    assert page.locator("h1").inner_text() == "Models"
    assert page.locator("table").get_by_role("link", name="diabetes").is_visible()
    shoot(page, shots, "models")

    # Upload and train: the token is asked once, then the preview shows columns and task.
    train_from_the_page(page, data, "birds", "auto")
    give_token(page)
    page.locator("#train-preview").wait_for(state="visible")
    assert page.locator("#train-target").input_value() == "species"
    summary = page.locator("#train-summary").inner_text()
    assert "150 rows" in summary and "task: multiclass" in summary
    kinds = page.locator("#train-features tr").all_inner_texts()
    assert [k.split("\t")[:2] for k in kinds] == [
        ["island", "categorical"], ["sex", "categorical"], ["mass", "numeric"],
    ]  # fmt: skip
    shoot(page, shots, "train")
    page.click("#train-submit")
    first = wait_for_job(page)
    assert page.locator("#job polyline.line.training").count() == 1  # the curve it grew
    assert "Version 1" in page.locator("#job .notice").inner_text()
    shoot(page, shots, "job")

    page.click("#job .notice a")  # to the new version
    page.wait_for_url("**/ui/models/birds/versions/1")
    assert page.locator("figure.chart polyline.line.training").count() == 1
    assert page.locator("table.versions tbody tr").count() == 1

    # A second version, longer: its curve grows on the page while it runs; not promoted.
    # (two layers and 2000 epochs a fold: a few seconds, so that the page refreshes meanwhile)
    train_from_the_page(page, data, "birds", "never", epochs=2000, hidden="64,64")
    page.locator("#train-preview").wait_for(state="visible")  # no second token prompt
    page.click("#train-submit")
    page.wait_for_url("**/ui/jobs/*")
    # The curve is drawn while the job runs, and redrawn as it goes on (the page refreshes).
    curves = watch_curves(page)
    assert len(curves) >= 2, f"the page drew {len(curves)} curve(s) while the job ran"
    second = wait_for_job(page)
    assert second != first
    assert "not promoted" in page.locator("#job .notice").inner_text()
    page.goto("/ui/models/birds")
    page.get_by_role("button", name="Promote v2").click()
    page.wait_for_function("() => document.querySelector('tr.shown th').innerText.includes('v2')")
    assert http("GET", stack.url + "/models/birds")[2]["version"] == 2
    shoot(page, shots, "model")
    page.get_by_role("button", name="Roll back to v1").click()
    page.wait_for_function("() => document.querySelector('tr.shown th').innerText.includes('v1')")
    assert http("GET", stack.url + "/models/birds")[2]["version"] == 1

    # Try it: the form's answer is /predict's.
    page.select_option("#try-form select[data-name=island]", label="Dream")
    page.select_option("#try-form select[data-name=sex]", label="(missing)")
    page.fill("#try-form input[data-name=mass]", "3900")
    page.press("#try-form input[data-name=mass]", "Enter")  # the keyboard submits the form
    page.locator("#try-result .result-label").wait_for()
    row = {"island": "Dream", "sex": None, "mass": 3900}
    expected = http("POST", stack.url + "/models/birds/versions/1/predict", row)[2]
    assert page.locator("#try-result .result-label").inner_text() == expected["label"]
    curl = page.locator("#try-curl").text_content()
    assert "/models/birds/versions/1/predict" in curl and '"sex":null' in curl

    # Score a file: the download has every row with the answers added.
    scored_in = tmp_path / "to-score.csv"
    scored_in.write_text(birds(40, seed=5))
    page.set_input_files("#score-file", str(scored_in))
    page.click("#score-form button[type=submit]")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download birds-v1-scored.csv").click()
    saved = tmp_path / "scored.csv"
    download.value.save_as(saved)
    table = list(csv.reader(io.StringIO(saved.read_text())))
    assert table[0] == ["island", "sex", "mass", "species", "label", "probability_s0",
                        "probability_s1", "probability_s2", "warnings"]  # fmt: skip
    assert len(table) == 41
    shoot(page, shots, "model-scored")

    page.goto("/ui/jobs")
    assert page.locator("tbody tr").count() == 2
    shoot(page, shots, "jobs")

    # A wrong token: the API's words, and the next action asks again.
    page.evaluate("sessionStorage.clear()")
    page.goto("/ui/models/birds")
    page.get_by_role("button", name="Promote v2").click()
    give_token(page, "not-the-token")
    alert = page.locator("#messages .notice")
    alert.wait_for()
    assert "missing or wrong bearer token" in alert.inner_text()
    assert page.evaluate("sessionStorage.length") == 0
    assert http("GET", stack.url + "/models/birds")[2]["version"] == 1

    # What must hold across the whole visit.
    assert seen.unexpected_console(allowed={401}) == []
    assert seen.errors == [] and seen.dialogs == [] and seen.blocked == []
    local = [u for u in seen.requests if not u.startswith(f"blob:{stack.url}/")]
    assert all(u.startswith(stack.url + "/") for u in local), local
    assert not [u for u in seen.requests if TOKEN in u]
    assert page.context.cookies() == []
    assert TOKEN not in json.dumps(page.evaluate("Object.entries(localStorage)"))
