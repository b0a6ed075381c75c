"""The JSON API over the real engine and the seeds index; every response is checked against /api/openapi.json."""

from __future__ import annotations

import gzip
import io
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import validate
from openapi_schema_validator import OAS31Validator

from web import cors_origins, create_app

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
    raw = response.get_data()
    if response.headers.get("Content-Encoding") == "gzip":
        raw = gzip.decompress(raw)
    else:
        assert "Content-Encoding" not in response.headers
    body = json.loads(raw)
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


def post(client, doc, body: Any, status: int = 200, **kwargs: Any) -> dict[str, Any]:
    response = client.post("/api/search", json=body, **kwargs)
    assert response.status_code == status, response.data[:500]
    return checked(response, doc)


def test_putin_question_returns_the_2015_article_with_its_quote(client, openapi) -> None:
    body = get(client, openapi, "/api/search", query_string={"q": PUTIN_QUESTION})
    assert body["query"] == PUTIN_QUESTION and body["mode"] == "hybrid" and body["page"] == 1 and body["k"] == 10
    assert body["total"] == {"value": 2, "relation": "eq"} and body["offset"] == 0
    first = body["hits"][0]
    assert first["rank"] == 1
    assert first["title"] == PUTIN_2015
    assert "We are convinced that in the end the Syrian people will be victorious" in first["quote"]["text"]
    assert first["source"] == "DW"
    assert first["date"] == "2015-06-29" and first["datetime"] is None  # the page gives the day only
    assert first["url"] == "https://p.dw.com/p/1FozI"
    # passages sit where they say in the article text; the quote and highlights sit in the passage's text
    article = get(client, openapi, f"/api/articles/{first['article_id']}")
    text, passage = article["text"], first["passage"]
    assert text[passage["start"]:passage["end"]] == passage["text"]
    assert article["passages"][passage["ordinal"]]["start"] == passage["start"]
    assert passage["text"][first["quote"]["start"]:first["quote"]["end"]] == first["quote"]["text"]
    semantic = [h for h in first["highlights"] if h["kind"] == "semantic"]
    assert semantic == [{"start": first["quote"]["start"], "end": first["quote"]["end"], "kind": "semantic"}]
    lexical = {passage["text"][h["start"]:h["end"]].lower() for h in first["highlights"] if h["kind"] == "lexical"}
    assert {"putin", "syrian", "people"} <= lexical
    for more in first["more_passages"]:
        assert text[more["start"]:more["end"]] == more["text"]
        for h in more["highlights"]:
            assert 0 <= h["start"] < h["end"] <= len(more["text"])

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
    assert body["total"]["value"] == 1
    assert [h["title"] for h in body["hits"]] == [ASSAD_2023]
    body = get(client, openapi, "/api/search",
               query_string={"q": PUTIN_QUESTION, "date_from": "2015-06-29", "date_to": "2015-06-29"})
    assert [h["title"] for h in body["hits"]] == [PUTIN_2015]


def test_source_filter_is_repeatable(client, openapi) -> None:
    both = get(client, openapi, "/api/search?q=Putin&source=DW&source=Reuters")
    assert both["total"]["value"] == 2
    none = get(client, openapi, "/api/search?q=Putin&source=Reuters")
    assert none["total"]["value"] == 0 and none["hits"] == []


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


@pytest.mark.parametrize("method, url", [("delete", "/api/search"), ("post", "/api/articles/x"),
                                         ("put", "/api/index")])
def test_wrong_method_is_json_405(client, openapi, method: str, url: str) -> None:
    response = getattr(client, method)(url)
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
    assert body["type"] == "quotes" and body["total"]["value"] >= 4
    first = body["hits"][0]
    assert first["quotation"]["speaker"] == "Vladimir Putin" and first["speaker_named"] is True
    assert first["quotation"]["speaker_kind"] == "person"
    assert (first["source"], first["date"], first["title"]) == ("DW", "2015-06-29", PUTIN_2015)
    assert {"name": "Vladimir Putin", "count": 3} in body["facets"]["speakers"]
    assert "speakers" not in body  # facets.speakers replaced it
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
    none = get(client, openapi, "/api/search", query_string={"q": "Syria", "type": "quotes", "speaker": "Nobody"})
    assert none["hits"] == [] and none["total"]["value"] == 0


def test_speakers_endpoint(client, openapi) -> None:
    everyone = get(client, openapi, "/api/speakers")
    assert everyone["speakers"][0] == {"name": "Vladimir Putin", "count": 3}
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
    stats = json.loads(result.output)
    assert "path" in stats and "path" not in body  # the server's filesystem stays private
    assert body == {name: value for name, value in stats.items() if name != "path"}
    assert body["articles"] == 2 and body["model"] == "all-MiniLM-L6-v2"


def test_healthz(client, openapi) -> None:
    body = get(client, openapi, "/healthz")
    assert body["status"] == "ok"
    assert body["build_id"] == get(client, openapi, "/api/index")["build_id"]


def test_api_responses_carry_security_headers(client, openapi) -> None:
    response = client.get("/api/search?q=Putin")
    checked(response, openapi)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_openapi_documents_what_the_code_accepts(openapi) -> None:
    params = {p["name"]: p for p in openapi["paths"]["/api/search"]["get"]["parameters"]}
    assert set(params) == {"q", "mode", "fusion", "alpha", "k", "limit", "page", "offset", "date_from", "date_to",
                           "source", "sort", "group", "type", "speaker"}
    assert params["q"]["required"] is True
    assert params["k"]["schema"]["maximum"] == 100
    assert set(openapi["paths"]["/api/search"]["get"]["responses"]) >= {"200", "400", "500", "503"}
    assert set(openapi["paths"]["/api/search"]["post"]["responses"]) >= {"200", "400", "415", "500", "503"}


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


# -- issue 11: the JSON API's conventions -----------------------------------------------------------------------


def fake_search(app, monkeypatch, result) -> list:
    """The engine answers `result` (built by hand to the search/models.py contract); the requests it got are kept."""
    asked: list = []

    def answer(request, timeout=None):
        asked.append(request)
        return replace(result, query=request.q)

    monkeypatch.setattr(app.extensions["newsclip"].engine, "search", answer)
    return asked


def made_result(**fields: Any):
    """A SearchResult with one article hit whose every field is set: a wire story with a time, a dateline and
    two passages, the second with its own matched word."""
    from search.models import Hit, Passage, Quotation, Quote, Scores, SearchResult, Span

    text = "Intro line.\n\nPutin met Assad <b>today</b>. He said more.\n\nLater, Putin left."
    first_at, second_at = text.index("Putin met"), text.index("Later")
    first = Passage("wire-1", 1, first_at, first_at + len("Putin met Assad <b>today</b>. He said more."),
                    "Putin met Assad <b>today</b>. He said more.")
    second = Passage("wire-1", 2, second_at, len(text), "Later, Putin left.")
    quote = Quote("Putin met Assad <b>today</b>.", first.start, first.start + len("Putin met Assad <b>today</b>."))
    quotation = Quotation("wire-1", first.start, first.start + 5, ((first.start, first.start + 5),), "Putin",
                          "a spokesman", None, "partial", "description")
    hit = Hit(rank=1, article_id="wire-1", title="Talks", source="Reuters", url=None, date="1987-03-03T13:16:23",
              score=0.5, scores=Scores(1.0, 1, 0.5, 1, 0.5), passage=first, quote=quote,
              highlights=(Span(first.start, first.start + 5, "lexical"), Span(quote.start, quote.end, "semantic")),
              more_passages=(second,), quotations=(quotation,),
              more_highlights=((Span(second_at + 7, second_at + 12, "lexical"),),), dateline="MOSCOW")
    base = dict(query="", mode="hybrid", took_ms=1.0, total=1, page=1, k=10, hits=(hit,))
    return SearchResult(**{**base, **fields})


def test_unknown_parameters_are_400_naming_the_accepted_ones(client, openapi) -> None:
    body = get(client, openapi, "/api/search", status=400, query_string={"q": "Putin", "size": "5"})
    assert body["error"]["param"] == "size" and body["error"]["code"] == "bad_request"
    assert "accepted: q, mode, fusion, alpha, k, limit, page, offset," in body["error"]["message"]
    speakers = get(client, openapi, "/api/speakers", status=400, query_string={"prefix": "P"})
    assert speakers["error"]["param"] == "prefix" and "accepted: q, limit" in speakers["error"]["message"]
    assert get(client, openapi, "/api/index?verbose=1", status=400)["error"]["param"] == "verbose"


def test_limit_is_k_and_offset_reaches_the_engine(app, client, openapi, monkeypatch) -> None:
    one = get(client, openapi, "/api/search", query_string={"q": PUTIN_QUESTION, "limit": "1"})
    assert one["k"] == 1 and len(one["hits"]) == 1
    asked = fake_search(app, monkeypatch, made_result(offset=7, k=3))
    body = get(client, openapi, "/api/search", query_string={"q": "Putin", "limit": "3", "offset": "7"})
    assert (asked[-1].k, asked[-1].offset, asked[-1].start) == (3, 7, 7) and body["offset"] == 7
    post(client, openapi, {"q": "Putin", "offset": 20})
    assert asked[-1].offset == 20 and asked[-1].start == 20
    get(client, openapi, "/api/search", query_string={"q": "Putin", "page": "3", "k": "5"})
    assert asked[-1].offset is None and asked[-1].start == 10


@pytest.mark.parametrize("params, param", [
    ({"q": "Putin", "page": "2", "offset": "10"}, "offset"),
    ({"q": "Putin", "k": "5", "limit": "5"}, "limit"),
    ({"q": "Putin", "limit": "0"}, "limit"),
    ({"q": "Putin", "offset": "-1"}, "offset"),
    ({"q": "Putin", "offset": "995", "k": "10"}, "offset"),  # offset + k beyond the 1,000 a reader may page to
    ({"q": "Putin", "offset": ["0", "1"]}, "offset"),
])
def test_paging_aliases_refuse_what_they_cannot_mean(client, openapi, params: dict, param: str) -> None:
    assert get(client, openapi, "/api/search", status=400, query_string=params)["error"]["param"] == param


def test_post_answers_like_get(client, openapi) -> None:
    query = {"q": PUTIN_QUESTION, "k": 1, "source": ["DW", "Reuters"], "date_to": "2015-12-31", "alpha": 0.5}
    by_post = post(client, openapi, query)
    by_get = get(client, openapi, "/api/search", query_string={**query, "k": "1", "alpha": "0.5"})
    assert {**by_post, "took_ms": 0} == {**by_get, "took_ms": 0}
    assert by_post["hits"][0]["title"] == PUTIN_2015 and by_post["total"]["value"] == 1


POSTED_BAD = [
    ({}, "q"),
    ({"q": ""}, "q"),
    ({"q": "   "}, "q"),
    ({"q": "x" * 1001}, "q"),
    ({"q": "-putin"}, "q"),
    ({"q": "Putin", "k": 0}, "k"),
    ({"q": "Putin", "k": "10"}, "k"),  # JSON has numbers: a string is not one
    ({"q": "Putin", "k": 1.5}, "k"),
    ({"q": "Putin", "k": True}, "k"),
    ({"q": "Putin", "alpha": 2}, "alpha"),
    ({"q": "Putin", "page": 11, "k": 100}, "page"),
    ({"q": "Putin", "page": 2, "offset": 10}, "offset"),
    ({"q": "Putin", "date_from": "20230101"}, "date_from"),
    ({"q": "Putin", "date_from": "2023-02-01", "date_to": "2023-01-01"}, "date_from"),
    ({"q": "Putin", "source": "DW"}, "source"),
    ({"q": "Putin", "source": ["DW", ""]}, "source"),
    ({"q": "Putin", "source": ["DW"] * 21}, "source"),
    ({"q": "Putin", "speaker": None}, "speaker"),
    ({"q": "Putin", "mode": "fuzzy"}, "mode"),
    ({"q": "Putin", "size": 5}, "size"),
    ([{"q": "Putin"}], "body"),
    ("Putin", "body"),
]


@pytest.mark.parametrize("body, param", POSTED_BAD, ids=[f"{p}-{i}" for i, (_, p) in enumerate(POSTED_BAD)])
def test_post_refuses_what_get_refuses(client, openapi, body: Any, param: str) -> None:
    error = post(client, openapi, body, status=400)["error"]
    assert error["code"] == "bad_request" and error["param"] == param and error["message"]


def test_post_body_rules(client, openapi) -> None:
    def raw(data: bytes, status: int, content_type: str = "application/json", **kwargs: Any) -> dict[str, Any]:
        response = client.post("/api/search", data=data, content_type=content_type, **kwargs)
        assert response.status_code == status, response.data[:300]
        return checked(response, openapi)["error"]

    assert raw(b'{"q": "Putin", "q": "Assad"}', 400)["param"] == "q"  # given twice
    assert raw(b'{"q": "Putin"', 400)["param"] == "body"  # not JSON
    assert raw(b"", 400)["param"] == "body"
    assert raw(b'{"q": "Putin"}', 415, "text/plain")["code"] == "unsupported_media_type"
    assert raw(b'q=Putin', 415, "application/x-www-form-urlencoded")["message"].endswith(
        "got 'application/x-www-form-urlencoded'")
    assert raw(b'{"q": "Putin"}', 400, query_string={"k": "1"})["param"] == "k"  # fields come in the body only
    padded = json.dumps({"q": "Putin", "speaker": "P" * 200}).encode() + b" " * (16 * 1024)
    assert raw(padded, 400) == {"code": "bad_request", "message": f"request body of {len(padded)} bytes; at most "
                                                                  "16384", "param": "body"}
    near = json.dumps({"q": "Putin"}).encode() + b" " * (16 * 1024 - 20)  # under the limit: read whole
    assert checked(client.post("/api/search", data=near, content_type="application/json"), openapi)["hits"]
    streamed = client.post("/api/search", input_stream=io.BytesIO(padded), content_type="application/json",
                           environ_overrides={"wsgi.input_terminated": True})  # chunked: no Content-Length
    assert streamed.status_code == 400 and checked(streamed, openapi)["error"]["param"] == "body"


def test_gzip_when_the_client_accepts_it(client, openapi) -> None:
    query = {"q": "Putin", "group": "passage", "k": "100"}
    plain = client.get("/api/search", query_string=query)
    zipped = client.get("/api/search", query_string=query, headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["Vary"]
    assert len(zipped.get_data()) * 3 < len(plain.get_data())
    assert checked(zipped, openapi)["hits"] == checked(plain, openapi)["hits"]


def test_cors_is_off_unless_configured(client, openapi, seeds_index: Path, embedder, monkeypatch) -> None:
    origin = {"Origin": "https://news.example"}
    assert "Access-Control-Allow-Origin" not in client.get("/api/search?q=Putin", headers=origin).headers
    assert cors_origins("https://a.example, https://b.example") == ["https://a.example", "https://b.example"]
    assert cors_origins(["*"]) == ["*"] and cors_origins("") == [] and cors_origins(None) == []
    monkeypatch.setenv("NEWSCLIP_CORS_ORIGINS", "https://news.example, https://other.example")
    app = create_app({"INDEX": seeds_index, "TESTING": True, "EMBEDDER": embedder, "RELOAD_INTERVAL": 0})
    try:
        allowed = app.test_client()
        response = allowed.get("/api/index", headers=origin)
        assert response.headers["Access-Control-Allow-Origin"] == "https://news.example"
        checked(response, openapi)
        preflight = allowed.options("/api/search", headers={**origin, "Access-Control-Request-Method": "POST",
                                                            "Access-Control-Request-Headers": "Content-Type"})
        assert preflight.headers["Access-Control-Allow-Origin"] == "https://news.example"
        assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
        stranger = allowed.get("/api/index", headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in stranger.headers
        assert "Access-Control-Allow-Origin" not in allowed.get("/", headers=origin).headers  # the API only
    finally:
        app.extensions["newsclip"].close()


def test_one_date_format_a_dateline_and_a_title(app, client, openapi, monkeypatch) -> None:
    from search.models import Article

    fake_search(app, monkeypatch, made_result())
    hit = get(client, openapi, "/api/search?q=Putin")["hits"][0]
    assert (hit["date"], hit["datetime"], hit["dateline"], hit["title"]) == (
        "1987-03-03", "1987-03-03T13:16:23Z", "MOSCOW", "Talks")
    brief = Article(id="wire-2", title="", text="Oil prices rose sharply on Monday in heavy trading. More.",
                    date="1987-03-03T13:16:23+02:00", dateline="HOUSTON")
    monkeypatch.setattr(app.extensions["newsclip"].engine, "article", lambda _id: brief)
    monkeypatch.setattr(app.extensions["newsclip"].engine, "article_passages", lambda _id: [])
    monkeypatch.setattr(app.extensions["newsclip"].engine, "article_quotations", lambda _id: [])
    article = get(client, openapi, "/api/articles/wire-2")
    assert (article["date"], article["datetime"], article["dateline"]) == (
        "1987-03-03", "1987-03-03T13:16:23+02:00", "HOUSTON")
    assert article["title"] == "Oil prices rose sharply on Monday in heavy trading."  # the headline


def test_offsets_are_relative_to_the_text_they_come_with(app, client, openapi, monkeypatch) -> None:
    fake_search(app, monkeypatch, made_result())
    hit = get(client, openapi, "/api/search?q=Putin")["hits"][0]
    text = hit["passage"]["text"]
    assert [(text[h["start"]:h["end"]], h["kind"]) for h in hit["highlights"]] == [
        ("Putin", "lexical"), ("Putin met Assad <b>today</b>.", "semantic")]
    assert text[hit["quote"]["start"]:hit["quote"]["end"]] == hit["quote"]["text"]
    more = hit["more_passages"][0]
    assert [more["text"][h["start"]:h["end"]] for h in more["highlights"]] == ["Putin"]
    assert more["ordinal"] == 2 and hit["quotations"][0]["speaker_kind"] == "description"


def test_quotation_hits_mark_the_quotation_text(client, openapi) -> None:
    body = get(client, openapi, "/api/search", query_string={"q": "What did Putin say about Syria?", "type": "quotes"})
    for hit in body["hits"]:
        words = {hit["quotation"]["text"][h["start"]:h["end"]].lower() for h in hit["highlights"]}
        assert words <= {"putin", "syria", "syrian", "syrians", "say", "said"}, words
    marked = [h for h in body["hits"] if h["highlights"]]
    assert marked, "no quotation hit names Syria"
    assert '<mark class="lexical">' in marked[0]["snippet"]


def test_a_ready_snippet_escaped_and_marked(app, client, openapi, monkeypatch) -> None:
    real = get(client, openapi, "/api/search", query_string={"q": PUTIN_QUESTION})["hits"][0]
    assert '<mark class="semantic">' in real["snippet"] and '<mark class="lexical">Putin</mark>' in real["snippet"]
    fake_search(app, monkeypatch, made_result())
    snippet = get(client, openapi, "/api/search?q=Putin")["hits"][0]["snippet"]
    assert "&lt;b&gt;today&lt;/b&gt;" in snippet and "<b>" not in snippet
    assert snippet.startswith('<mark class="semantic"><mark class="lexical">Putin</mark> met Assad')


def test_facets_total_relation_notices_and_near_misses(app, client, openapi, monkeypatch) -> None:
    from search.models import Facets, Notice

    weak = made_result().hits[0]
    result = made_result(hits=(), total=120, total_relation="gte", near_misses=(replace(weak, rank=1),),
                         facets=Facets(sources=(("Reuters", 80), ("DW", 40)), speakers=(("Vladimir Putin", 4),),
                                       unnamed=3),
                         notices=(Notice("weak_only", "Nothing matched well; the closest passages are below."),))
    fake_search(app, monkeypatch, result)
    body = get(client, openapi, "/api/search?q=Putin")
    assert body["total"] == {"value": 120, "relation": "gte"}
    assert body["facets"] == {"sources": [{"name": "Reuters", "count": 80}, {"name": "DW", "count": 40}],
                              "speakers": [{"name": "Vladimir Putin", "count": 4}], "unnamed": 3}
    assert body["notices"] == [{"code": "weak_only",
                                "message": "Nothing matched well; the closest passages are below."}]
    assert body["hits"] == [] and body["near_misses"][0]["title"] == "Talks"
    assert body["near_misses"][0]["more_passages"][0]["highlights"]  # the same shape as a hit


def test_no_server_path_in_any_response(app, client, openapi, seeds_index: Path, monkeypatch) -> None:
    from web.api import model_name

    hit = get(client, openapi, "/api/search", query_string={"q": PUTIN_QUESTION})["hits"][0]
    urls = ["/api/index", "/api/openapi.json", "/healthz", "/api/speakers", f"/api/articles/{hit['article_id']}",
            "/api/search?q=Putin", "/api/search?q=Putin&type=quotes", "/api/search?k=0", "/api/nothing",
            "/api/articles/missing"]
    for url in urls:
        response = client.get(url)
        checked(response, openapi)
        raw = response.get_data(as_text=True)
        assert str(seeds_index) not in raw and str(Path.cwd()) not in raw, url
    assert model_name("/srv/models/my-minilm") == "my-minilm" and model_name("../models/x") == "x"
    assert model_name("sentence-transformers/all-MiniLM-L6-v2") == "sentence-transformers/all-MiniLM-L6-v2"
    summary = {**app.extensions["newsclip"].engine.summary(), "model": "/srv/models/mine"}
    monkeypatch.setattr(app.extensions["newsclip"].engine, "summary", lambda: summary)
    assert get(client, openapi, "/api/index")["model"] == "mine"


def test_the_document_is_openapi_3_1_and_made_from_the_models(openapi) -> None:
    from openapi_spec_validator import validate as validate_document

    from web import schemas

    validate_document(openapi)  # the whole document, not only its schemas
    body = openapi["components"]["schemas"]["SearchParams"]
    params = openapi["paths"]["/api/search"]["get"]["parameters"]
    assert [p["name"] for p in params] == list(body["properties"]) == list(schemas.SearchParams.model_fields)
    assert openapi["paths"]["/api/search"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SearchParams"}
    assert set(openapi["components"]["schemas"]["Hit"]["properties"]) == set(schemas.Hit.model_fields)
    assert openapi["components"]["schemas"]["MorePassage"]["required"][-1] == "highlights"


def test_offset_skips_hits_like_page_does(client, openapi) -> None:
    by_page = get(client, openapi, "/api/search", query_string={"q": PUTIN_QUESTION, "k": "1", "page": "2"})
    by_offset = get(client, openapi, "/api/search", query_string={"q": PUTIN_QUESTION, "limit": "1", "offset": "1"})
    assert [h["rank"] for h in by_offset["hits"]] == [2] and by_offset["offset"] == by_page["offset"] == 1
    assert by_offset["hits"][0]["article_id"] == by_page["hits"][0]["article_id"]


def test_the_engine_marks_every_passage(client, openapi) -> None:
    body = get(client, openapi, "/api/search", query_string={"q": "Putin Assad Syria", "group": "article"})
    more = [p for hit in body["hits"] for p in hit["more_passages"]]
    assert more, "no hit has a second matching passage"
    for passage in more:
        words = {passage["text"][h["start"]:h["end"]].lower() for h in passage["highlights"]}
        assert words and words <= {"putin", "assad", "syria", "syrian", "syrians", "putin's", "assad's"}, words


def test_a_question_nothing_answers_says_so(client, openapi) -> None:
    body = get(client, openapi, "/api/search", query_string={"q": "xylophone tournament results"})
    assert body["hits"] == [] and body["total"]["value"] == 0
    assert {n["code"] for n in body["notices"]} & {"no_match", "weak_only"}
