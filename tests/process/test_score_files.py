"""Scoring a real public file (palmerpenguins' held-out rows) over HTTP and with nns-predict,
against real gunicorn: the answers are /predict's, any dialect training reads is scored, the
body may come in chunks, and a bad row is named by its line and column."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path

import numpy as np
import pytest

from tests.support import public_data
from tests.support.harness import Gunicorn, http, train_cli

pytestmark = pytest.mark.process
CSV = {"Content-Type": "text/csv", "Accept": "text/csv"}


@dataclass(frozen=True)
class Held:
    """The held-out rows the model can score: those with a value wherever training had one
    (a gap there is refused, in a file as in a JSON row)."""

    test: Path
    rows: int


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    data = tmp_path_factory.mktemp("score")
    prepared = public_data.prepare("penguins", data)
    train_cli(data / "models", "--data", str(prepared.train), "--target", "species",
              "--model", "penguins", "--epochs", "60")  # fmt: skip
    api = Gunicorn(data, data / "gunicorn.log", workers=2, NNS_DEFAULT_MODEL="penguins")
    try:
        api.wait_ready()
        card = http("GET", api.url + "/models/penguins")[2]
        strict = [f["name"] for f in card["features"] if not f["nullable"]]
        lines = prepared.test.read_text().splitlines(keepends=True)
        header = next(csv.reader(lines[:1]))
        keep = [line for line in lines[1:] if not any(
            next(csv.reader([line]))[header.index(n)] in ("", "NA") for n in strict
        )]  # fmt: skip
        assert 0 < len(keep) < len(lines) - 1  # the split has such gaps: some rows go
        held = data / "held.csv"
        held.write_text(lines[0] + "".join(keep))
        yield data, api, Held(held, len(keep))
    finally:
        api.stop()


def score(api, body: bytes, query: str = "") -> tuple[int, dict, bytes | dict]:
    url = f"{api.url}/models/penguins/predict{query}"
    return http("POST", url, body, CSV, timeout=60)


def json_rows(api, path) -> list[dict]:
    """The file's rows as /predict takes them, typed by the model card."""
    card = http("GET", api.url + "/models/penguins")[2]
    kinds = {f["name"]: f["type"] for f in card["features"]}
    rows = []
    for record in csv.DictReader(io.StringIO(path.read_text())):
        row = {}
        for name, kind in kinds.items():
            cell = record[name].strip()
            missing = cell in ("", "NA")
            row[name] = None if missing else float(cell) if kind == "numeric" else cell
        rows.append(row)
    return rows


def test_a_held_out_file_gets_the_answers_of_json_predict(served):
    _, api, prepared = served
    status, headers, answer = score(api, prepared.test.read_bytes())
    assert status == 200 and headers["Content-Type"] == "text/csv; charset=utf-8", answer
    table = list(csv.reader(io.StringIO(answer.decode())))
    source = list(csv.reader(io.StringIO(prepared.test.read_text())))
    assert len(table) == len(source) == prepared.rows + 1
    assert [r[: len(source[0])] for r in table] == source[:1] + source[1:]  # echoed as written
    instances = json_rows(api, prepared.test)
    expected = http("POST", api.url + "/models/penguins/predict", {"instances": instances})[2]
    assert [r[len(source[0])] for r in table[1:]] == [p["label"] for p in expected["predictions"]]
    probs = np.array([[float(v) for v in r[len(source[0]) + 1 : -1]] for r in table[1:]])
    assert table[0][-1] == "warnings" and {r[-1] for r in table[1:]} == {""}
    np.testing.assert_allclose(probs, [p["probabilities"] for p in expected["predictions"]],
                               rtol=1e-12)  # fmt: skip


def chunked(api, body: bytes, query: str = "") -> tuple[int, bytes]:
    """POST with Transfer-Encoding: chunked, 4 kB at a time."""
    conn = HTTPConnection("127.0.0.1", api.port, timeout=60)
    try:
        conn.putrequest("POST", f"/models/penguins/predict{query}")
        for name, value in {**CSV, "Transfer-Encoding": "chunked"}.items():
            conn.putheader(name, value)
        conn.endheaders()
        for start in range(0, len(body), 4096):
            part = body[start : start + 4096]
            conn.send(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        conn.send(b"0\r\n\r\n")
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_an_excel_file_in_chunks_is_answered_in_its_own_dialect(served, tmp_path):
    _, api, prepared = served
    header, rows = public_data.read_table(prepared.test)
    excel = io.StringIO()
    writer = csv.writer(excel, delimiter=";", lineterminator="\r\n")
    writer.writerows([header, *([c.replace(".", ",") for c in r] for r in rows)])
    status, answer = chunked(api, "\ufeff".encode() + excel.getvalue().encode())
    assert status == 200, answer
    table = list(csv.reader(io.StringIO(answer.decode()), delimiter=";"))
    plain = list(csv.reader(io.StringIO(score(api, prepared.test.read_bytes())[2].decode())))
    width = len(header)
    assert [r[width] for r in table] == [r[width] for r in plain]  # the same labels
    np.testing.assert_allclose(
        [[float(v.replace(",", ".")) for v in r[width + 1 : -1]] for r in table[1:]],
        [[float(v) for v in r[width + 1 : -1]] for r in plain[1:]],
        rtol=1e-12,
    )


def nns_predict(data, *args: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "service.serving.scorecli", "--store", str(data / "models")]
    return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=120)


def test_nns_predict_writes_what_the_route_answers(served, tmp_path):
    data, api, prepared = served
    out = tmp_path / "scored.csv"
    done = nns_predict(data, "--model", "penguins", "--data", str(prepared.test), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote {out}: {prepared.rows} rows scored by penguins version 1\n"
    assert out.read_bytes() == score(api, prepared.test.read_bytes())[2]
    done = nns_predict(data, "--model", "penguins", "--data", str(prepared.test), "--json")
    answer = json.loads(done.stdout)
    assert answer["version"] == 1 and len(answer["predictions"]) == prepared.rows


def test_a_bad_row_is_named_by_line_and_column_by_both(served, tmp_path):
    data, api, prepared = served
    lines = prepared.test.read_text().splitlines(keepends=True)
    header = next(csv.reader([lines[0]]))
    cells = next(csv.reader([lines[6]]))
    cells[header.index("bill_length_mm")] = "long"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    lines[6] = out.getvalue()
    bad = tmp_path / "bad.csv"
    bad.write_text("".join(lines))
    message = "line 7, column 'bill_length_mm': not a number"
    status, _, body = score(api, bad.read_bytes())
    assert status == 422 and body["error"] == message, body
    assert body["details"][0]["loc"] == ["body", 7, "bill_length_mm"]
    target = tmp_path / "never.csv"
    done = nns_predict(data, "--model", "penguins", "--data", str(bad), "--out", str(target))
    assert done.returncode == 1 and done.stderr == f"nns-predict: error: {message}\n"
    assert not target.exists() and list(tmp_path.glob(".never.csv.*")) == []
