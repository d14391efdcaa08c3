"""An unexpected exception's 500 carries the security headers: the security middleware wraps
the whole application, Starlette's own error middleware included."""

from __future__ import annotations

from types import SimpleNamespace

from starlette.testclient import TestClient

from appliance.runtime.services.http.app import build_app


def test_an_unexpected_exception_answers_500_with_the_security_headers():
    # A state missing everything the routes need: any API call raises inside the app.
    state = SimpleNamespace(https=False, accepted_origins=frozenset())
    client = TestClient(build_app(state), raise_server_exceptions=False)
    response = client.get("/api/session")
    assert response.status_code == 500
    for name in ("content-security-policy", "x-content-type-options", "x-frame-options"):
        assert name in response.headers
