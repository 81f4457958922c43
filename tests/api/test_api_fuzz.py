"""Fuzz every operation of /openapi.json with schemathesis against a running `billsim serve`: no input,
however malformed, gets a 5xx, and every answer matches the schema the API publishes. Bounded: a few
examples per operation, the whole run within a couple of minutes on the CI machine."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from engine.api.app import create_app

from .conftest import headers

EXAMPLES = 15


def _published_schema() -> dict:
    """The OpenAPI document `billsim serve` publishes at /openapi.json (the same app; a test checks they agree)."""
    app = create_app(":memory:")
    try:
        return app.openapi()
    finally:
        app.state.billsim.close()


PUBLISHED = _published_schema()
schema = schemathesis.openapi.from_dict(PUBLISHED)


def test_the_server_publishes_this_schema(api):
    import httpx

    assert httpx.get(f"{api.url}/openapi.json").json() == PUBLISHED
    assert httpx.get(f"{api.url}/docs").status_code == 200


@pytest.mark.single_process  # its operations are subtests: run by tasks.py outside the xdist workers
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_is_a_server_error(case, api):
    # authenticated, so the cases reach the handlers (unauthenticated ones stop at 401, tested elsewhere)
    auth = headers(api.tokens["north"], "biz-north")
    case.call_and_validate(base_url=api.url, headers=auth, checks=[not_a_server_error, response_schema_conformance])
