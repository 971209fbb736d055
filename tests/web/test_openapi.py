"""The document is generated from the URL map: a route without a declaration breaks it."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from service.web import openapi
from service.web.auth import admin_required
from service.web.openapi import UndocumentedRoute, describe


def test_the_document_is_valid_openapi_and_lists_each_served_model(client):
    doc = client.get("/openapi.json").json
    validate(doc)
    schemas = doc["components"]["schemas"]
    assert {"diabetes.PredictRequest", "moons.PredictRequest"} <= set(schemas)
    body = doc["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/diabetes.PredictRequest"}


def test_a_route_without_a_declaration_breaks_the_document(app):
    app.add_url_rule("/forgotten", "forgotten", lambda: "x")
    with app.app_context(), pytest.raises(UndocumentedRoute, match="GET /forgotten"):
        openapi.build(app, {}, "diabetes")


def test_admin_required_marks_the_operation_secured_and_adds_401_and_503(app):
    @admin_required
    @describe("Do a thing", {200: ("Done.", {"type": "object"})})
    def thing():
        return "x"

    app.add_url_rule("/thing", "thing", thing, methods=["POST"])
    with app.app_context():
        op = openapi.build(app, {}, "diabetes")["paths"]["/thing"]["post"]
    assert op["security"] == [{"bearer": []}]
    assert {"200", "401", "405", "500", "503"} == set(op["responses"])
    resp = app.test_client().post("/thing")
    assert resp.status_code == 401 and resp.json["code"] == "unauthorized"
