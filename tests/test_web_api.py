"""The JSON API over the real engine and the seeds index; every response is checked against /api/openapi.json."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import validate
from openapi_schema_validator import OAS31Validator

from web import create_app

PUTIN_2015 = "Russia pledges to support Syrian government"
ASSAD_2023 = "Putin and Assad hold talks on anniversary of Syria uprising"
PUTIN_QUESTION = "What did Putin say about the Syrian people?"


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def openapi(client) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"].startswith("3.1")
    for name, schema in doc["components"]["schemas"].items():
        OAS31Validator.check_schema(schema)  # each schema is itself a valid JSON Schema
    return doc


def _operation(doc: dict[str, Any], path: str, method: str) -> dict[str, Any] | None:
    for template, item in doc["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", ".+", re.escape(template)) + "$"
        if re.match(pattern, path) and method in item:
            return item[method]
    return None


def checked(response, doc: dict[str, Any]) -> dict[str, Any]:
    """Assert a JSON response is documented for its path and status and matches that schema; return its body."""
    assert response.mimetype == "application/json", response.data[:200]
    body = response.get_json()
    op = _operation(doc, response.request.path, response.request.method.lower())
    if op is None:  # an undocumented path or method: only the error shape may come back
        assert response.status_code in (404, 405)
        schema: dict[str, Any] = {"$ref": "#/components/schemas/Error"}
    else:
        documented = op["responses"]
        assert str(response.status_code) in documented, f"status {response.status_code} is not documented"
        schema = documented[str(response.status_code)]["content"]["application/json"]["schema"]
    validate(body, {**schema, "components": doc["components"]}, cls=OAS31Validator)
    return body


def get(client, doc, url: str, status: int = 200, **kwargs: Any) -> dict[str, Any]:
    response = client.get(url, **kwargs)
    assert response.status_code == status, response.data[:500]
    return checked(response, doc)


def test_putin_question_returns_the_2015_article_with_its_quote(client, openapi) -> None:
    body = get(client, openapi, "/api/search", query_string={"q": PUTIN_QUESTION})
    assert body["query"] == PUTIN_QUESTION and body["mode"] == "hybrid" and body["page"] == 1 and body["k"] == 10
    assert body["total"] == 2
    first = body["hits"][0]
    assert first["rank"] == 1
    assert first["title"] == PUTIN_2015
    assert "We are convinced that in the end the Syrian people will be victorious" in first["quote"]["text"]
    assert first["source"] == "DW"
    assert first["date"] == "2015-06-29"
    assert first["url"] == "https://p.dw.com/p/1FozI"
    # offsets are article offsets: the passage and the quote sit where they say in the article text
    article = get(client, openapi, f"/api/articles/{first['article_id']}")
    text = article["text"]
    assert text[first["passage"]["start"]:first["passage"]["end"]] == first["passage"]["text"]
    assert text[first["quote"]["start"]:first["quote"]["end"]] == first["quote"]["text"]
    semantic = [h for h in first["highlights"] if h["kind"] == "semantic"]
    assert semantic == [{"start": first["quote"]["start"], "end": first["quote"]["end"], "kind": "semantic"}]
    lexical = {text[h["start"]:h["end"]].lower() for h in first["highlights"] if h["kind"] == "lexical"}
    assert {"putin", "syrian", "people"} <= lexical
    for more in first["more_passages"]:
        assert text[more["start"]:more["end"]] == more["text"]


def test_assad_visit_returns_the_2023_article_first(client, openapi) -> None:
    body = get(client, openapi, "/api/search",
               query_string={"q": "Assad's visit to Moscow on the anniversary of the uprising"})
    assert body["hits"][0]["title"] == ASSAD_2023
    assert body["hits"][0]["date"].startswith("2023-")


@pytest.mark.parametrize("mode, leg", [("bm25", "bm25"), ("dense", "dense"), ("hybrid", "fused")])
def test_each_mode_answers(client, openapi, mode: str, leg: str) -> None:
    body = get(client, openapi, "/api/search", query_string={"q": PUTIN_QUESTION, "mode": mode})
    assert body["mode"] == mode
    assert body["hits"], f"{mode} found nothing"
    assert body["hits"][0]["scores"][leg] is not None
    assert [h["rank"] for h in body["hits"]] == list(range(1, len(body["hits"]) + 1))


def test_linear_fusion_with_alpha(client, openapi) -> None:
    body = get(client, openapi, "/api/search",
               query_string={"q": PUTIN_QUESTION, "fusion": "linear", "alpha": "0.8"})
    assert body["hits"][0]["title"] == PUTIN_2015


def test_date_from_drops_the_2015_article(client, openapi) -> None:
    body = get(client, openapi, "/api/search", query_string={"q": PUTIN_QUESTION, "date_from": "2023-01-01"})
    assert body["total"] == 1
    assert [h["title"] for h in body["hits"]] == [ASSAD_2023]
    body = get(client, openapi, "/api/search",
               query_string={"q": PUTIN_QUESTION, "date_from": "2015-06-29", "date_to": "2015-06-29"})
    assert [h["title"] for h in body["hits"]] == [PUTIN_2015]


def test_source_filter_is_repeatable(client, openapi) -> None:
    both = get(client, openapi, "/api/search?q=Putin&source=DW&source=Reuters")
    assert both["total"] == 2
    none = get(client, openapi, "/api/search?q=Putin&source=Reuters")
    assert none["total"] == 0 and none["hits"] == []


def test_paging_sorting_and_grouping(client, openapi) -> None:
    page2 = get(client, openapi, "/api/search", query_string={"q": PUTIN_QUESTION, "k": 1, "page": 2})
    assert page2["page"] == 2 and page2["k"] == 1 and [h["rank"] for h in page2["hits"]] == [2]
    by_date = get(client, openapi, "/api/search", query_string={"q": "Putin", "sort": "date"})
    dates = [h["date"] for h in by_date["hits"]]
    assert dates == sorted(dates, reverse=True)
    passages = get(client, openapi, "/api/search", query_string={"q": "Putin", "group": "passage", "k": 20})
    assert len(passages["hits"]) > 2  # several passages of the same article come back one by one


BAD_REQUESTS = [
    ({}, "q"),
    ({"q": ""}, "q"),
    ({"q": "   "}, "q"),
    ({"q": "x" * 1001}, "q"),
    ({"q": "-putin"}, "q"),
    ({"q": "Putin", "mode": "fuzzy"}, "mode"),
    ({"q": "Putin", "fusion": "max"}, "fusion"),
    ({"q": "Putin", "alpha": "2"}, "alpha"),
    ({"q": "Putin", "alpha": "half"}, "alpha"),
    ({"q": "Putin", "alpha": "nan"}, "alpha"),
    ({"q": "Putin", "k": "0"}, "k"),
    ({"q": "Putin", "k": "101"}, "k"),
    ({"q": "Putin", "k": "ten"}, "k"),
    ({"q": "Putin", "k": "1.5"}, "k"),
    ({"q": "Putin", "page": "0"}, "page"),
    ({"q": "Putin", "page": "two"}, "page"),
    ({"q": "Putin", "page": "11", "k": "100"}, "page"),
    ({"q": "Putin", "date_from": "2023-13-01"}, "date_from"),
    ({"q": "Putin", "date_from": "yesterday"}, "date_from"),
    ({"q": "Putin", "date_to": "2023/01/01"}, "date_to"),
    ({"q": "Putin", "date_to": "20230101"}, "date_to"),
    ({"q": "Putin", "date_from": "2023-02-01", "date_to": "2023-01-01"}, "date_from"),
    ({"q": "Putin", "sort": "oldest"}, "sort"),
    ({"q": "Putin", "group": "sentence"}, "group"),
    ({"q": "Putin", "source": [f"s{i}" for i in range(21)]}, "source"),
    ({"q": "Putin", "type": "sayings"}, "type"),
    ({"q": "Putin", "k": ""}, "k"),  # the API is strict: an empty value is not a default
    ({"q": "Putin", "page": ["1", "2"]}, "page"),  # nor is a value given twice
    ({"q": ["Putin", "Assad"]}, "q"),
    ({"q": "Putin", "source": ["DW", ""]}, "source"),
    ({"q": "Putin", "source": ["DW"] * 21}, "source"),  # counted as given, not after removing repeats
    ({"q": "Putin", "speaker": " "}, "speaker"),
    ({"q": "Putin", "type": "quotes", "speaker": "P" * 201}, "speaker"),
]


@pytest.mark.parametrize("params, param", BAD_REQUESTS, ids=[f"{p}-{i}" for i, (_, p) in enumerate(BAD_REQUESTS)])
def test_bad_requests_are_400_naming_the_parameter(client, openapi, params: dict, param: str) -> None:
    body = get(client, openapi, "/api/search", status=400, query_string=params)
    assert body["error"]["code"] == "bad_request"
    assert body["error"]["param"] == param
    assert body["error"]["message"]


@pytest.mark.parametrize("url", ["/api/nothing-here", "/api", "/api/search/extra"])
def test_unknown_api_path_is_json_404(client, openapi, url: str) -> None:
    body = get(client, openapi, url, status=404)
    assert body["error"]["code"] == "not_found"


def test_wrong_method_is_json_405(client, openapi) -> None:
    response = client.post("/api/search", data={"q": "Putin"})
    assert response.status_code == 405
    assert checked(response, openapi)["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


def test_engine_failure_is_json_500_without_details(app, client, openapi, monkeypatch) -> None:
    def broken(request, timeout=None):
        raise RuntimeError("secret-internal-detail in /srv/private/path")

    monkeypatch.setattr(app.extensions["newsclip"].engine, "search", broken)
    response = client.get("/api/search?q=Putin")
    assert response.status_code == 500
    body = checked(response, openapi)
    assert body["error"]["code"] == "internal_error"
    raw = response.get_data(as_text=True)
    assert "secret-internal-detail" not in raw and "Traceback" not in raw and "RuntimeError" not in raw


def test_article_endpoint_and_its_404(client, openapi) -> None:
    hit = get(client, openapi, "/api/search", query_string={"q": PUTIN_QUESTION})["hits"][0]
    article = get(client, openapi, f"/api/articles/{hit['article_id']}")
    assert article["id"] == hit["article_id"]
    assert article["title"] == PUTIN_2015 and article["source"] == "DW" and article["date"] == "2015-06-29"
    assert set(article["agencies"]) == {"AFP", "AP", "Reuters"}
    assert [h["text"] for h in article["headings"]] == ["Need for 'a miracle'"]
    for heading in article["headings"]:
        assert article["text"][heading["start"]:heading["end"]] == heading["text"]
    assert [p["ordinal"] for p in article["passages"]] == list(range(len(article["passages"])))
    for passage in article["passages"]:
        assert article["text"][passage["start"]:passage["end"]] == passage["text"]
    missing = get(client, openapi, "/api/articles/no-such-id", status=404)
    assert missing["error"] == {"code": "not_found", "message": "no article with id 'no-such-id'",
                                "param": "article_id"}
    slashed = get(client, openapi, "/api/articles/a/b%3Cscript%3E", status=404)  # odd ids still route
    assert slashed["error"]["param"] == "article_id"


def test_article_lists_its_quotations_with_offsets(client, openapi) -> None:
    hit = get(client, openapi, "/api/search", query_string={"q": PUTIN_QUESTION})["hits"][0]
    article = get(client, openapi, f"/api/articles/{hit['article_id']}")
    text, quotes = article["text"], article["quotes"]
    assert [q["start"] for q in quotes] == sorted(q["start"] for q in quotes)
    for q in quotes:
        assert q["parts"][0][0] == q["start"] and q["parts"][-1][1] == q["end"]
        spoken = " ".join(" ".join(text[a:b].split()).rstrip(",;: ") for a, b in q["parts"])
        assert q["text"] == spoken and '"' not in text[q["start"]:q["end"]][:1]  # offsets exclude the marks
    by_text = {q["text"]: q for q in quotes}
    putin = by_text["We are convinced that in the end the Syrian people will be victorious"]
    assert (putin["speaker"], putin["role"], putin["kind"]) == ("Vladimir Putin", "President", "full")
    moallem = next(q for q in quotes if "works miracles" in q["text"])
    assert moallem["speaker"] == "Walid al-Moallem" and moallem["kind"] == "full"
    assert by_text["terrorism"]["kind"] == "term" and by_text["terrorism"]["speaker"] is None


def test_quote_search_names_the_speaker_source_and_date(client, openapi) -> None:
    body = get(client, openapi, "/api/search", query_string={"q": "What did Putin say about Syria?", "type": "quotes"})
    assert body["type"] == "quotes" and body["total"] >= 4
    first = body["hits"][0]
    assert first["quotation"]["speaker"] == "Vladimir Putin" and first["speaker_named"] is True
    assert (first["source"], first["date"], first["title"]) == ("DW", "2015-06-29", PUTIN_2015)
    assert {"name": "Vladimir Putin", "count": 4} in body["speakers"]
    assessed = get(client, openapi, "/api/search", query_string={"q": "Assad's words on Russia's support",
                                                                 "type": "quotes"})
    assert assessed["hits"][0]["quotation"]["speaker"] == "Assad"
    assert assessed["hits"][0]["quotation"]["text"].startswith("Even though Russia now is also conducting")


def test_speaker_filter_in_both_types(client, openapi) -> None:
    quotes = get(client, openapi, "/api/search", query_string={"q": "Syria", "type": "quotes", "speaker": "Putin"})
    assert quotes["hits"] and {h["quotation"]["speaker"] for h in quotes["hits"]} == {"Vladimir Putin"}
    articles = get(client, openapi, "/api/search", query_string={"q": "Syria", "speaker": "Assad"})
    assert [h["title"] for h in articles["hits"]] == [ASSAD_2023]
    assert [q["speaker"] for q in articles["hits"][0]["quotations"]] == ["Assad"]
    assert articles["speakers"] == []  # the facet belongs to quotation hits
    none = get(client, openapi, "/api/search", query_string={"q": "Syria", "type": "quotes", "speaker": "Nobody"})
    assert none["hits"] == [] and none["total"] == 0


def test_speakers_endpoint(client, openapi) -> None:
    everyone = get(client, openapi, "/api/speakers")
    assert everyone["speakers"][0] == {"name": "Vladimir Putin", "count": 4}
    assert get(client, openapi, "/api/speakers", query_string={"q": "al-m"})["speakers"] == [
        {"name": "Walid al-Moallem", "count": 1}]
    assert get(client, openapi, "/api/speakers", query_string={"q": "ASS"})["speakers"] == [
        {"name": "Assad", "count": 1}]
    assert get(client, openapi, "/api/speakers", query_string={"q": "zzz"})["speakers"] == []
    assert len(get(client, openapi, "/api/speakers", query_string={"limit": "1"})["speakers"]) == 1
    for params, param in (({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"), ({"q": "a" * 201}, "q")):
        assert get(client, openapi, "/api/speakers", status=400, query_string=params)["error"]["param"] == param


def test_index_summary_equals_indexer_stats_json(client, openapi, seeds_index: Path) -> None:
    from indexer.cli import main

    result = CliRunner().invoke(main, ["stats", "--index", str(seeds_index), "--json"])
    assert result.exit_code == 0, result.output
    body = get(client, openapi, "/api/index")
    assert body == json.loads(result.output)
    assert body["articles"] == 2 and body["model"] == "all-MiniLM-L6-v2"


def test_healthz(client, openapi) -> None:
    body = get(client, openapi, "/healthz")
    assert body["status"] == "ok"
    assert body["build_id"] == get(client, openapi, "/api/index")["build_id"]


def test_api_responses_carry_security_headers(client) -> None:
    response = client.get("/api/search?q=Putin")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_openapi_documents_what_the_code_accepts(openapi) -> None:
    params = {p["name"]: p for p in openapi["paths"]["/api/search"]["get"]["parameters"]}
    assert set(params) == {"q", "mode", "fusion", "alpha", "k", "page", "date_from", "date_to", "source", "sort",
                           "group", "type", "speaker"}
    assert params["q"]["required"] is True
    assert params["k"]["schema"]["maximum"] == 100
    assert set(openapi["paths"]["/api/search"]["get"]["responses"]) >= {"200", "400", "500"}


def test_a_wrong_body_fails_the_schema_check(openapi) -> None:
    """The helper can fail: a hit without its quote field is refused."""
    from jsonschema import ValidationError

    schema = {"$ref": "#/components/schemas/Hit", "components": openapi["components"]}
    with pytest.raises(ValidationError):
        validate({"rank": 1, "article_id": "x"}, schema, cls=OAS31Validator)


def test_configured_from_the_environment(seeds_index: Path, monkeypatch) -> None:
    import faiss
    import torch

    monkeypatch.setenv("NEWSCLIP_INDEX", str(seeds_index))
    monkeypatch.setenv("NEWSCLIP_EMBED_THREADS", "2")
    monkeypatch.setenv("NEWSCLIP_FAISS_THREADS", "2")
    before = torch.get_num_threads()
    try:
        app = create_app()
        assert app.config["EMBED_THREADS"] == 2 and app.config["FAISS_THREADS"] == 2  # parsed as integers
        assert faiss.omp_get_max_threads() == 2
        engine = app.extensions["newsclip"].engine
        assert Path(engine.build_dir).parent.parent == seeds_index
        assert engine.embedder.variant == engine.manifest["model"]["variant"]  # loaded from the build itself
        assert engine.embedder._session.get_session_options().intra_op_num_threads == 2
        app.extensions["newsclip"].close()
    finally:
        torch.set_num_threads(before)
        faiss.omp_set_num_threads(before)


def test_missing_index_fails_at_start_with_a_clear_message(tmp_path: Path, capsys) -> None:
    from search.errors import IndexNotFound
    from web.__main__ import main

    with pytest.raises(IndexNotFound):
        create_app({"INDEX": tmp_path / "none"})
    assert main(["--index", str(tmp_path / "none"), "--port", "0"]) == 1
    assert "no index at" in capsys.readouterr().err


def test_main_defaults_to_loopback_and_sixteen_threads(monkeypatch) -> None:
    from web import __main__ as main_module
    from web.__main__ import parse_args

    args = parse_args([])
    assert (args.host, args.port, args.threads, args.channel_timeout) == ("127.0.0.1", 8000, 16, 30)
    served = {}
    monkeypatch.setattr("waitress.serve", lambda app, **kw: served.update(app=app, **kw))
    monkeypatch.setattr("web.create_app", lambda config: served.setdefault("config", config) and "app")
    assert main_module.main(["--index", "x"]) == 0
    assert served["config"]["DEBUG"] is False and served["host"] == "127.0.0.1"  # never Flask's debug server
    assert served["max_request_body_size"] == 1024 * 1024 and served["channel_timeout"] == 30


def test_the_server_answers_without_torch(seeds_index: Path) -> None:
    """An ONNX-built index is served by onnxruntime alone: torch's hundreds of MB never enter the process."""
    import subprocess
    import sys

    script = (
        "import sys, json; from web import create_app; "
        f"app = create_app({{'INDEX': {str(seeds_index)!r}}}); "
        "hits = app.test_client().get('/api/search?q=What+did+Putin+say+about+the+Syrian+people').get_json()['hits']; "
        "print(json.dumps([hits[0]['date'], 'torch' in sys.modules, 'sentence_transformers' in sys.modules]))"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["2015-06-29", False, False]


def test_a_search_past_its_time_limit_is_a_json_503(seeds_index: Path, embedder, openapi) -> None:
    from web import create_app

    app = create_app({"INDEX": seeds_index, "TESTING": True, "EMBEDDER": embedder, "REQUEST_TIMEOUT": 1e-9,
                      "RELOAD_INTERVAL": 0})
    client = app.test_client()
    response = client.get("/api/search", query_string={"q": PUTIN_QUESTION})
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert checked(response, openapi)["error"]["code"] == "timeout"
    page = client.get("/", query_string={"q": PUTIN_QUESTION})
    assert page.status_code == 503 and "took too long" in page.get_data(as_text=True)
    assert client.get("/api/articles/none").status_code == 404  # only searches are timed
    app.extensions["newsclip"].close()


def test_a_request_body_over_the_limit_is_a_400(client, openapi) -> None:
    response = client.get("/api/search", query_string={"q": "Putin"}, data=b"x" * (16 * 1024 + 1))
    assert response.status_code == 400
    assert checked(response, openapi)["error"] == {
        "code": "bad_request", "message": "request body of 16385 bytes; at most 16384", "param": "body"}
    assert client.get("/", query_string={"q": "Putin"}, data=b"x" * 20000).status_code == 400
    assert client.get("/api/search", query_string={"q": "Putin"}, data=b"x" * 100).status_code == 200
