"""Stand-ins for the CSVs the README trains on, of the same shape, made on the spot.

The README's penguins.csv is the training split of palmerpenguins' data and houses.csv that of
ISLP's Housing (docs/benchmarks.md, real data): downloading them takes a minute the README's
test should not. These have the same columns, kinds, categories, missing cells, classes and
row counts, so every line of output has the same words; only the measured numbers differ.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

# Per species (as in the real training split): rows, islands, missing sexes, and the mean and
# standard deviation of bill length, bill depth, flipper length and body mass.
PENGUINS = {
    "Adelie": (122, {"Torgersen": 41, "Biscoe": 36, "Dream": 45}, 3,
               [(38.6, 2.6), (18.4, 1.2), (189.6, 6.3), (3680, 442)]),
    "Chinstrap": (54, {"Dream": 54}, 0, [(48.9, 3.3), (18.5, 1.1), (196.2, 7.1), (3736, 387)]),
    "Gentoo": (99, {"Biscoe": 99}, 3, [(47.4, 3.0), (15.0, 1.0), (216.6, 6.5), (5042, 482)]),
}  # fmt: skip
PENGUIN_COLUMNS = ["species", "island", "bill_length_mm", "bill_depth_mm",
                   "flipper_length_mm", "body_mass_g", "sex", "year"]  # fmt: skip
SPREAD = 0.5  # narrower than the real data's: training runs all 500 epochs, as it does there
HOUSE_COLUMNS = ["", "price", "lotsize", "bedrooms", "bathrms", "stories", "driveway",
                 "recroom", "fullbase", "gashw", "airco", "garagepl", "prefarea"]  # fmt: skip
HOUSE_ROWS, HOUSE_IDS = 437, 546  # the training split's rows, and the row numbers they come from


def penguins(path: Path, seed: int = 0) -> Path:
    """Write a penguins.csv: 275 rows, text island and sex (with NA), numbers, a text target."""
    rng = np.random.default_rng(seed)
    rows = []
    for species, (n, islands, missing_sex, measures) in PENGUINS.items():
        island = [name for name, count in islands.items() for _ in range(count)]
        sex = ["NA"] * missing_sex + [("female", "male")[i % 2] for i in range(n - missing_sex)]
        for i in range(n):
            bill, depth, flipper, mass = (rng.normal(m, s * SPREAD) for m, s in measures)
            year = 2007 + int(rng.integers(3))
            rows.append([species, island[i], f"{bill:.1f}", f"{depth:.1f}", f"{flipper:.0f}",
                         f"{round(mass / 25) * 25:.0f}", sex[i], str(year)])  # fmt: skip
    return _write(path, PENGUIN_COLUMNS, rows)


def houses(path: Path, seed: int = 0) -> Path:
    """Write a houses.csv: R's unnamed row numbers first, a price, numbers and yes/no columns."""
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(np.arange(1, HOUSE_IDS + 1), HOUSE_ROWS, replace=False))
    rows = []
    for row_id in ids:
        lot, beds, baths, stories, garage = (
            int(rng.integers(1650, 16200)), int(rng.integers(1, 6)), int(rng.integers(1, 4)),
            int(rng.integers(1, 5)), int(rng.integers(0, 4)),
        )  # fmt: skip
        flags = [("no", "yes")[int(rng.random() < p)] for p in (0.86, 0.18, 0.35, 0.05, 0.32, 0.23)]
        price = 4 * lot + 5000 * baths + 6000 * stories + 15000 * (flags[4] == "yes")
        price += int(rng.normal(20000, 9000))
        rows.append([str(row_id), str(price), str(lot), str(beds), str(baths), str(stories),
                     *flags[:5], str(garage), flags[5]])  # fmt: skip
    return _write(path, HOUSE_COLUMNS, rows)


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path
