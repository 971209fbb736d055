"""Metrics, the OpenAPI document and the page that renders it (no CDN: assets are ours)."""

from pathlib import Path

from flask import Blueprint, Response, current_app

from .. import metrics, openapi
from ..http import registry, settings
from ..jsonio import json_response
from ..openapi import describe

bp = Blueprint("docs", __name__)
TEXT = {"type": "string"}


@bp.get("/metrics")
@describe("Prometheus metrics", {200: ("Exposition text.", TEXT)}, media="text/plain")
def prometheus():
    body, content_type = metrics.render()
    return Response(body, content_type=content_type)


@bp.get("/openapi.json")
@describe("This document", {200: ("OpenAPI 3.1.", {"type": "object"})})
def openapi_json():
    return json_response(openapi.build(current_app, registry().current, settings().default_model))


DOCS_PAGE = (Path(__file__).resolve().parents[1] / "static" / "docs.html").read_bytes()


@bp.get("/docs")
@describe("API reference page", {200: ("HTML page.", TEXT)}, media="text/html")
def docs_page():
    return Response(DOCS_PAGE, mimetype="text/html")
