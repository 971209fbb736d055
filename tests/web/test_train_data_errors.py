"""POST /train with ordinary user CSVs: what trains, and the clear 422s for what cannot."""

from __future__ import annotations

import pytest

CSV = {"Content-Type": "text/csv"}


@pytest.fixture
def post(client, auth):
    def send(query: str, text: str):
        return client.post(f"/train?{query}", data=text.encode(), headers={**auth, **CSV})

    return send


def test_semicolons_a_bom_text_columns_missing_cells_and_a_yes_no_target_are_accepted(post):
    rows = "".join(
        f"{i % 7 + 0.5};{'ab'[i % 2]};{'' if i % 5 == 0 else i % 3};{'Yes' if i % 2 else 'No'}\r\n"
        for i in range(40)
    )
    resp = post("model=churn&target=left", "\ufeffsize;kind;visits;left\r\n" + rows)
    assert resp.status_code == 202, resp.json


@pytest.mark.parametrize(
    "query,text,phrase",
    [
        (
            "model=m&target=y",
            "a,b\n1,2\n",
            "target column 'y' is not in the CSV; columns: 'a', 'b'",
        ),
        (
            "model=m&target=y",
            "name,a,y\n" + "".join(f"n{i},{i % 3},{i % 2}\n" for i in range(30)),
            "column 'name' looks like an identifier",
        ),
        ("model=m&target=y&exclude=zz", "a,y\n1,0\n2,1\n", "not in the CSV: ['zz']; columns: 'a'"),
        ("model=m&target=y&task=regression", "a,y\n1,yes\n2,no\n", "holds text"),
        (
            "model=m&target=y&task=binary&loss=mse",
            "a,y\n1,0\n2,1\n",
            "loss 'mse' is for regression",
        ),
    ],
)
def test_each_problem_is_a_clear_422_and_nothing_is_queued(post, jobs, query, text, phrase):
    resp = post(query, text)
    assert resp.status_code == 422 and phrase in resp.json["error"], resp.json
    assert jobs.pending() == 0


@pytest.fixture
def jobs(app):
    from service.web.routes.jobs import queue

    with app.app_context():
        return queue()
