"""The OpenAPI document names exactly the routes of the JSON API, with the same methods."""

from __future__ import annotations

import re

from appliance.runtime.services.http import api, openapi

HTTP_METHODS = {"get", "head", "put", "post", "delete", "patch", "options"}


def test_openapi_document_matches_the_api_routes():
    routes: dict[str, set[str]] = {}
    for route in api.ROUTES:
        template = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        routes.setdefault(template, set()).update(m.lower() for m in route.methods)
    documented = {
        path: {m for m in item if m in HTTP_METHODS}
        for path, item in openapi.document()["paths"].items()
    }
    assert documented == routes


def test_openapi_document_is_openapi_3_with_both_security_schemes():
    document = openapi.document()
    assert document["openapi"].startswith("3.")
    assert set(document["components"]["securitySchemes"]) == {"basic", "session"}
