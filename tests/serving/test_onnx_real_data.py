"""The ten public datasets (binary, multiclass, regression, text, missing cells): each model as
nns-train makes it, exported, answers every held-out row as /predict does.

Rows /predict refuses (a missing value where training had none) are held against the Python
reference instead, which says NaN for them; a copy of the rows with an unseen category in
every text feature is held against the reference's unknown-category rule.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from model_store import ModelStore
from service.serving.onnx_export import to_bytes
from service.serving.onnx_inputs import takes_text
from service.serving.predictor import Predictor
from service.training.pipeline import run
from service.training.request import TrainRequest
from service.web.app import create_app
from tests.support import public_data
from tests.support.onnx_checks import answers, assert_same, feeds, reference, session
from tests.support.onnx_checks import run as run_graph

DATASETS = list(public_data.DATASETS)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Every dataset prepared and trained with the defaults; the app serving them."""
    root = tmp_path_factory.mktemp("real-onnx")
    store = ModelStore(root / "models")
    prepared = {}
    for name in DATASETS:
        p = prepared[name] = public_data.prepare(name, root / "data")
        header, _ = public_data.read_table(p.train)
        # nns-train names a column with an empty header by its position
        exclude = [c.strip() or f"column_{header.index(c) + 1}" for c in p.exclude]
        request = TrainRequest(
            model=name, file=str(p.train), target=p.target, exclude=exclude, promote="always"
        )
        run(request, store)
    app = create_app({"data_dir": root, "model_store": store.root, "max_batch": 20_000})
    return store, prepared, app.test_client()


def held_out_rows(prepared: public_data.Prepared, model: Predictor) -> list[dict]:
    """Held-out rows as a client sends them: numbers, text, None for a missing cell."""
    header, rows = public_data.read_table(Path(prepared.test))
    out = []
    for cells in rows:
        row = {}
        for spec in model.meta.features:
            cell = cells[header.index(spec.name)]
            if public_data.is_missing(cell):
                row[spec.name] = None
            else:
                numbers = spec.type == "numeric" or spec.zero_one
                row[spec.name] = float(cell) if numbers else cell.strip()
        out.append(row)
    return out


def served(client, name: str, rows: list[dict]) -> tuple[list, list[int]]:
    """Return /predict's answer per row (None where refused) and the refused rows."""
    got: list = [None] * len(rows)
    pending = list(range(len(rows)))
    while pending:
        resp = client.post(
            f"/models/{name}/predict", json={"instances": [rows[i] for i in pending]}
        )
        body = resp.get_json()
        if resp.status_code == 200:
            for i, answer in zip(pending, body["predictions"], strict=True):
                got[i] = answer
            break
        assert resp.status_code == 422, body
        bad = {pending[d["loc"][1]] for d in body["details"]}
        pending = [i for i in pending if i not in bad]
    return got, [i for i, a in enumerate(got) if a is None]


@pytest.mark.parametrize("name", DATASETS)
def test_held_out_rows_answer_as_predict(trained, name):
    store, prepared, client = trained
    model = Predictor(store.load(name, 1), 20_000)
    rows = held_out_rows(prepared[name], model)
    graph = answers(model, run_graph(session(to_bytes(model)), feeds(model, rows)))
    expected, refused = served(client, name, rows)
    assert len(refused) <= 2, f"{name}: /predict refused rows {refused}"
    for i in refused:
        expected[i] = reference(model, [rows[i]])[0]
    assert_same(graph, expected)


@pytest.mark.parametrize("name", [n for n in DATASETS if n in ("penguins", "titanic", "wage")])
def test_unseen_categories_in_real_models_score_at_the_training_mean(trained, name):
    store, prepared, _ = trained
    model = Predictor(store.load(name, 1), 20_000)
    text = [s.name for s in model.meta.features if takes_text(s)]
    rows = [{**r, **{f: "never seen" for f in text}} for r in held_out_rows(prepared[name], model)]
    graph = answers(model, run_graph(session(to_bytes(model)), feeds(model, rows)))
    assert_same(graph, reference(model, rows))
