"""Metrics, the OpenAPI document and the page that renders it (no CDN: assets are ours)."""

from pathlib import Path

from flask import Blueprint, Response, current_app

from .. import metrics, openapi
from ..http import registry, settings
from ..jsonio import json_response

bp = Blueprint("docs", __name__)


@bp.get("/metrics")
def prometheus():
    body, content_type = metrics.render()
    return Response(body, content_type=content_type)


@bp.get("/openapi.json")
def openapi_json():
    reg = registry()
    extra = current_app.extensions["nns.openapi_paths"]
    return json_response(openapi.build(reg.current, settings().default_model, extra))


DOCS_PAGE = (Path(__file__).resolve().parents[1] / "static" / "docs.html").read_bytes()


@bp.get("/docs")
def docs_page():
    return Response(DOCS_PAGE, mimetype="text/html")
