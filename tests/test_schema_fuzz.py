"""schemathesis against /api/openapi.json: generated requests, valid and invalid (query strings, the JSON bodies
of POST /api/search, and the ingest API's JSON and NDJSON articles and path ids, sent with the app's token), never a
5xx, every response as documented (status, content type, headers, body schema); schemathesis's `ignored_auth`
check also sends each accepted write again without the token and with a wrong one, which must be refused.

The operations are driven with Hypothesis directly (`as_strategy`): schemathesis's pytest plugin does not run
under this pytest version. Every default check runs except `positive_data_acceptance`: a schema-valid question
can still be unanswerable (`q=-inf` leaves nothing to search once the excluded term is removed), and the API
says so with the documented 400, which that check would count as a failure.
"""

from __future__ import annotations

import json
import shutil

import pytest
import schemathesis
import schemathesis.specs.openapi.schemas  # noqa: F401 - see below
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from openapi_schema_validator import OAS31Validator
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from web.schemas import ALIASES

# schemathesis loads its OpenAPI modules on first use, and pytest rewrites them (it is a pytest plugin) with
# ast.parse. Loaded that late, after the cluster tests, one fresh clone's run hit CPython 3.11's "AST constructor
# recursion depth mismatch" (the interpreter's recursion limit changed by another thread during the parse): they
# are loaded above, at collection, before any test has started a thread.

MODES = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
# schemathesis sends requests' default Accept-Encoding (gzip, deflate, zstd) but its WSGI transport never
# decompresses, so the app's compression (tested in test_web_api.py) is asked off here.
IDENTITY = {"Accept-Encoding": "identity"}
TOKEN = "fuzz-ingest-token-0123456789abcdef"
HEADERS = {**IDENTITY, "Authorization": f"Bearer {TOKEN}"}
INGEST = {("POST", "/api/articles"), ("PUT", "/api/articles/{article_id}"), ("DELETE", "/api/articles/{article_id}")}


@schemathesis.serializer("application/x-ndjson")
def ndjson(_ctx, value) -> bytes:
    """The document gives an NDJSON body as an array of articles: each element is sent as one line (anything that
    is not an array, as generated for a negative case, as one line)."""
    lines = value if isinstance(value, list) else [value]
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


@pytest.fixture(scope="module")
def app(seeds_index, embedder, tmp_path_factory):
    """The app with the ingest API on, over its own copy of the seeds index: the writes it journals stay there."""
    from web import create_app

    index = tmp_path_factory.mktemp("fuzz") / "index"
    shutil.copytree(seeds_index, index, ignore=shutil.ignore_patterns("journal", ".rebuild.lock"))
    app = create_app({"INDEX": index, "TESTING": True, "EMBEDDER": embedder, "INGEST_TOKEN": TOKEN})
    yield app
    app.extensions["newsclip"].close()


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


def operations(schema) -> list:
    found = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in found} >= {
        ("GET", "/api/search"), ("POST", "/api/search"), ("GET", "/api/speakers"),
        ("GET", "/api/articles/{article_id}"), ("GET", "/api/index"), ("GET", "/healthz"), *INGEST}
    return found


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
def test_every_operation_keeps_its_contract(api_schema, mode) -> None:
    calls: list[tuple[str, str, int, bool]] = []
    tried: set[tuple[str, str]] = set()
    for operation in operations(api_schema):
        raw = operation.definition.raw
        if mode is schemathesis.GenerationMode.NEGATIVE and not (raw.get("parameters") or raw.get("requestBody")):
            continue  # nothing to get wrong in a request without parameters or body

        # schemathesis makes few acceptable single articles (it breaks the id and url patterns under the body's
        # allOf/anyOf: 11-22 % of JSON bodies pass), so that operation gets more tries: one is accepted every run
        single_post = (operation.method.upper(), operation.path) == ("POST", "/api/articles")

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=100 if single_post else 40, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def check(case) -> None:
            batch = case.media_type == "application/x-ndjson"
            excluded = [positive_data_acceptance]
            if batch and mode is schemathesis.GenerationMode.NEGATIVE:
                excluded.append(negative_data_rejection)  # a batch is judged per line: see lines_judged_alone
            response = case.call_and_validate(headers=HEADERS, excluded_checks=excluded)
            assert response.status_code < 500, (case.method, case.path, case.query, case.body, response.status_code)
            if batch and response.status_code == 202:
                lines_judged_alone(api_schema.raw_schema, case.body, response.json())
            calls.append((case.method.upper(), case.path, response.status_code, batch))

        try:
            check()
        except Unsatisfiable:
            # a path parameter typed only as a string cannot be made schema-invalid in a URL
            assert mode is schemathesis.GenerationMode.NEGATIVE and operation.path == "/api/articles/{article_id}"
            continue
        tried.add((operation.method.upper(), operation.path))
    assert {("GET", "/api/search"), ("POST", "/api/search"), ("GET", "/api/speakers")} <= tried and len(calls) >= 40
    posted = {status for method, path, status, _ in calls if (method, path) == ("POST", "/api/search")}
    assert posted, "no POST /api/search was made"
    written = {(method, status) for method, path, status, batch in calls if path.startswith("/api/articles")
               and method != "GET" and not batch}
    assert {method for method, _ in written} == {"POST", "PUT", "DELETE"}, written
    assert any(batch for *_, batch in calls), "no NDJSON batch was sent"
    if mode is schemathesis.GenerationMode.POSITIVE:
        assert 200 in posted  # valid bodies were answered, not only refused
        assert {("POST", 202), ("PUT", 202), ("DELETE", 202)} <= written, written  # valid writes were journaled
    else:
        assert posted <= {400, 415}, posted  # every invalid body was refused as documented
        # a generated "invalid" id can serialize to a valid one (123 in a path is "123"): schemathesis's
        # negative_data_rejection check, run on every write, tells those apart; here, only that writes were refused
        assert 400 in {status for _, status in written}, written


def lines_judged_alone(document: dict, body, result: dict) -> None:
    """A batch answers 202 with an item per line, like Elasticsearch's bulk API, so schemathesis's check that a
    schema-violating request is refused whole cannot apply to it; instead: each line the ArticleIn schema refuses
    was refused (its item a 400), whatever the other lines held. Lines that use a JSONL alias (`headline` for a
    title of the wrong type) are left out: the alias is read, as `indexer add` reads it."""
    lines = body if isinstance(body, list) else [body]
    schema = {**document["paths"]["/api/articles"]["post"]["requestBody"]["content"]["application/x-ndjson"][
        "schema"]["items"], "components": document["components"]}
    assert [item["line"] for item in result["items"]] == list(range(1, len(lines) + 1))
    for line, item in zip(lines, result["items"]):
        if isinstance(line, dict) and any(alias in line for names in ALIASES.values() for alias in names):
            continue
        if not OAS31Validator(schema).is_valid(line):
            assert item["status"] == 400 and item["seq"] is None, (line, item)
