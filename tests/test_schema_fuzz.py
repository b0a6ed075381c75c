"""schemathesis against /api/openapi.json: generated requests, valid and invalid (query strings and the JSON bodies
of POST /api/search), never a 5xx, every response as documented (status, content type, headers, body schema).

The operations are driven with Hypothesis directly (`as_strategy`): schemathesis's pytest plugin does not run
under this pytest version. Every default check runs except `positive_data_acceptance`: a schema-valid question
can still be unanswerable (`q=-inf` leaves nothing to search once the excluded term is removed), and the API
says so with the documented 400, which that check would count as a failure.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import positive_data_acceptance

MODES = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
# schemathesis sends requests' default Accept-Encoding (gzip, deflate, zstd) but its WSGI transport never
# decompresses, so the app's compression (tested in test_web_api.py) is asked off here.
IDENTITY = {"Accept-Encoding": "identity"}


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


def operations(schema) -> list:
    found = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in found} >= {
        ("GET", "/api/search"), ("POST", "/api/search"), ("GET", "/api/speakers"),
        ("GET", "/api/articles/{article_id}"), ("GET", "/api/index"), ("GET", "/healthz")}
    return found


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
def test_every_operation_keeps_its_contract(api_schema, mode) -> None:
    calls: list[tuple[str, str, int]] = []
    tried: set[tuple[str, str]] = set()
    for operation in operations(api_schema):
        raw = operation.definition.raw
        if mode is schemathesis.GenerationMode.NEGATIVE and not (raw.get("parameters") or raw.get("requestBody")):
            continue  # nothing to get wrong in a request without parameters or body

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:
            response = case.call_and_validate(headers=IDENTITY, excluded_checks=[positive_data_acceptance])
            assert response.status_code < 500, (case.method, case.path, case.query, case.body, response.status_code)
            calls.append((case.method.upper(), case.path, response.status_code))

        try:
            check()
        except Unsatisfiable:
            # a path parameter typed only as a string cannot be made schema-invalid in a URL
            assert mode is schemathesis.GenerationMode.NEGATIVE and operation.path == "/api/articles/{article_id}"
            continue
        tried.add((operation.method.upper(), operation.path))
    assert {("GET", "/api/search"), ("POST", "/api/search"), ("GET", "/api/speakers")} <= tried and len(calls) >= 40
    posted = {status for method, path, status in calls if method == "POST"}
    assert posted, "no POST /api/search was made"
    if mode is schemathesis.GenerationMode.POSITIVE:
        assert 200 in posted  # valid bodies were answered, not only refused
    else:
        assert posted <= {400, 415}, posted  # every invalid body was refused as documented
