"""What tests train on: `train` publishes a small model in process (`promote_rotten` one whose
weights rot), ROWS are a training request's rows, and `penguins_csv` is a small CSV with text,
missing cells and text labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model_store import ModelStore
from service.training.pipeline import run
from service.training.request import TrainRequest

# The eight diabetes rows with a `diabetic` target: what a client posts to /train.
ROWS = [
    {"smoking": s, "obesity": o, "exercise": e, "diabetic": int(o and not e)}
    for s in (0, 1)
    for o in (0, 1)
    for e in (0, 1)
]
SPECIES = ["Adelie", "Chinstrap", "Gentoo"]
ISLANDS = ["Biscoe", "Dream", "Torgersen"]


def train(store: ModelStore, name: str = "diabetes", dataset: str = "diabetes", **params):
    """Train a small model quickly and publish it; return the TrainResult."""
    params.setdefault("epochs", 300)
    samples = 200 if dataset == "moons" else None  # the dataset's recipe for the rest
    request = TrainRequest(
        model=name, dataset=dataset, samples=samples, hyperparameters=params, promote="always"
    )
    return run(request, store)


def promote_rotten(store: ModelStore, name: str = "diabetes", **params) -> tuple[Path, bytes]:
    """Publish a version whose weights then rot, and make it current as a hand edit would.

    A running app's watcher may look at any moment: the version is damaged before CURRENT
    names it. Returns the weights' path and their good bytes.
    """
    params.setdefault("epochs", 50)
    request = TrainRequest(model=name, dataset=name, hyperparameters=params, promote="never")
    version = run(request, store).version
    weights = store.root / name / str(version) / "weights.npz"
    good = weights.read_bytes()
    weights.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    store._switch(name, version)  # the store's own switch, without set_current's check
    return weights, good


def penguins_csv() -> str:
    """60 rows: species follows bill and island; `big` is Yes/No; gaps in bill and diet."""
    rng = np.random.default_rng(4)
    lines = ["species,island,sex,bill,diet,big,mass"]
    for i in range(60):
        k = i % 3
        island = ISLANDS[(k + (i // 9)) % 3]
        sex = ("female", "male")[(i // 2) % 2]
        bill = "NA" if i % 7 == 0 else f"{38 + 5 * k + rng.normal():.1f}"
        diet = "" if i % 5 == 0 else ("fish", "krill")[(i // 4) % 2]
        big = "Yes" if k == 2 or sex == "male" else "No"
        mass = f"{3000 + 400 * k + (300 if sex == 'male' else 0) + 50 * rng.normal():.0f}"
        lines.append(",".join([SPECIES[k], island, sex, bill, diet, big, mass]))
    return "\n".join(lines) + "\n"
