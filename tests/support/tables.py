"""Small tables with every kind of feature, for tests that train models of them."""

from __future__ import annotations

import numpy as np

COLOURS = ["red", "green", "blue"]


def shop_csv(n: int, seed: int) -> str:
    """Rows with a nullable category, a two-word binary, a nullable number, a 0/1 and a number;
    three targets: kind (3 classes), ok (Yes/No) and amount (a quantity)."""
    rng = np.random.default_rng(seed)
    lines = ["colour,size,x,y,z,kind,ok,amount"]
    for i in range(n):
        c = int(rng.integers(3))
        colour = "" if i % 7 == 3 else COLOURS[c]
        size = ("S", "L")[int(rng.integers(2))]
        x = rng.normal(10, 3)
        y, z = rng.normal(), int(rng.integers(2))
        kind = "abc"[(c + (x > 10) + z) % 3]
        ok = "Yes" if (x > 10) != (size == "L") else "No"
        amount = 120 * x + 50 * c + 300 * z + rng.normal(0, 20)
        x_cell = "NA" if i % 5 == 1 else f"{x:.3f}"
        lines.append(f"{colour},{size},{x_cell},{y:.4f},{z},{kind},{ok},{amount:.2f}")
    return "\n".join(lines) + "\n"


# JSON rows with booleans: a category of two booleans and a word, a boolean target.
FLAG_ROWS = [
    {"answer": (False, True, "maybe", True)[i % 4], "score": float(i % 5),
     "renewed": i % 4 == 1 or i % 5 == 4}
    for i in range(40)
]  # fmt: skip
