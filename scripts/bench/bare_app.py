"""The benchmark's baseline: a bare Flask app whose POST endpoint returns a constant JSON object.

Served by scripts/bench/bench_serve.py with the same gunicorn config and settings as the service:
`gunicorn -c python:service.web.gunicorn_conf --pythonpath scripts/bench 'bare_app:app'`.
"""

from flask import Flask, jsonify

ANSWER = {"model": "bare", "version": 1, "label": 1, "probability": 0.5}

app = Flask(__name__)


@app.post("/")
def answer():
    """Return the same small JSON object whatever the request says."""
    return jsonify(ANSWER)
