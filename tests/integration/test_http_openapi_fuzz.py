"""schemathesis fuzzes every operation of the served OpenAPI document: no server error."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from tests.http_support import base_url, http_appliance

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402

BASIC_ALICE = {"Authorization": "Basic YWxpY2U6YWxpY2UtcHc="}  # alice:alice-pw


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("http-fuzz")
    # Generated logins fail often: keep loopback out of the ban list for this run.
    with http_appliance(root, server_options="ban_allowlist = 127.0.0.1/32") as running:
        yield running


@pytest.fixture(scope="module")
def api_schema(fuzzed_app):
    url = base_url(fuzzed_app)
    return schemathesis.openapi.from_url(url + "/api/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error(case, fuzzed_app):
    headers = {} if case.path in ("/api/login", "/api/logout") else dict(BASIC_ALICE)
    case.call_and_validate(
        base_url=base_url(fuzzed_app), headers=headers, checks=[not_a_server_error], timeout=30
    )
