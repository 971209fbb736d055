"""Real public datasets through the whole product: nns-train with no task, loss or
hyperparameter flag, served by gunicorn, held-out rows scored over HTTP, beside scikit-learn.

Text columns, missing cells, text labels (Yes/No, three and five classes), a price-like target
and identifier columns, from five different packages (tests/support/public_data.py); the bar
is the issue's: accuracy within 0.03 of scikit-learn's standard pipeline, RMSE within 10% of the
better of that pipeline and the mean predictor. The benchmark scripts run as a user runs them;
`python scripts/bench/real_data.py` prints the table.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from tests.support import public_data
from tests.support.harness import ROOT

pytestmark = pytest.mark.process

# penguins: text features, missing cells, 3 text classes; titanic: missing ages, an identifier;
# oj: a CH/MM label; weather: 5 text classes and a date column; housing: prices, yes/no
# features, unnamed row numbers; hitters: a price-like salary with missing targets.
DATASETS = ["penguins", "titanic", "oj", "weather", "housing", "hitters"]


@pytest.fixture(scope="module")
def outcomes() -> list[dict]:
    """Run scripts/bench/real_data.py as a user does; return its JSON line per dataset."""
    argv = [sys.executable, str(ROOT / "scripts" / "bench" / "real_data.py"), "--json", *DATASETS]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_every_dataset_meets_the_bar_over_http(outcomes):
    assert [o["name"] for o in outcomes] == DATASETS
    assert all(o["passes"] for o in outcomes), outcomes


def test_the_first_version_of_each_is_promoted_by_the_gate(outcomes):
    assert all(o["promoted"] for o in outcomes)


def test_a_csv_saved_by_excel_trains_with_no_flags(tmp_path):
    """Penguins as Excel saves a CSV in much of Europe: BOM, semicolons, CRLF, quoted cells."""
    header, rows = public_data.read_table(public_data.prepare("penguins", tmp_path).train)
    excel = tmp_path / "excel.csv"
    with open(excel, "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC).writerows(
            [header, *rows]
        )
    assert excel.read_bytes().startswith(b"\xef\xbb\xbf")
    argv = [sys.executable, str(ROOT / "scripts" / "train.py"), "--store", str(tmp_path / "s")]
    argv += ["--data", str(excel), "--target", "species", "--model", "excel"]
    out = subprocess.run([*argv, "--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["task"] == "multiclass" and result["promoted"]
    assert result["metrics"]["accuracy"] > 0.9
