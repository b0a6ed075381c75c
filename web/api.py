"""JSON API: /api/search, /api/speakers, /api/articles/<id>, /api/index, /api/openapi.json, one error shape."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from flask import Blueprint, current_app, g, jsonify
from flask import request as flask_request
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from search.errors import BadQuery
from search.models import MAX_SOURCES, MAX_SPEAKER_CHARS, Article, Hit, Passage, Quotation, QuoteHit, SearchRequest, SearchResult

from .openapi import document

bp = Blueprint("api", __name__, url_prefix="/api")

_INT = re.compile(r"-?\d{1,9}")
_FLOAT = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d{1,3})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def engine() -> Any:
    """The engine this request answers from: taken from the live index once and kept until the request ends,
    so a build published meanwhile never changes the index under a request."""
    found = g.get("newsclip_engine")
    if found is None:
        holder = current_app.extensions["newsclip"].using()
        found = holder.__enter__()
        g.newsclip_engine, g.newsclip_holder = found, holder
    return found


def release_engine() -> None:
    """Give the request's engine back (teardown), so a replaced build can close once its requests are done."""
    holder = g.pop("newsclip_holder", None)
    g.pop("newsclip_engine", None)
    if holder is not None:
        holder.__exit__(None, None, None)


def run_search(request: SearchRequest) -> SearchResult:
    """One search under the configured time limit (REQUEST_TIMEOUT seconds)."""
    timeout = current_app.config.get("REQUEST_TIMEOUT")
    return engine().search(request, timeout=float(timeout) if timeout else None)


def error_body(code: str, message: str, param: str | None = None) -> dict[str, Any]:
    """The one error shape of the API, for 400, 404, 405 and 500 alike."""
    return {"error": {"code": code, "message": message, "param": param}}


def _text(args: MultiDict[str, str], name: str) -> str | None:
    """One parameter's value, stripped; None when absent. Given twice, or given empty, it is a BadQuery."""
    values = args.getlist(name)
    if len(values) > 1:
        raise BadQuery(f"{name} is given {len(values)} times; give it once", name)
    if values and not values[0].strip():
        raise BadQuery(f"{name} is empty; leave it out for the default", name)
    return values[0].strip() if values else None


def _int(args: MultiDict[str, str], name: str, default: int) -> int:
    value = _text(args, name)
    if value is None:
        return default
    if not _INT.fullmatch(value):
        raise BadQuery(f"{name} must be a whole number; got {value!r}", name)
    return int(value)


def _float(args: MultiDict[str, str], name: str, default: float) -> float:
    value = _text(args, name)
    if value is None:
        return default
    if not _FLOAT.fullmatch(value):
        raise BadQuery(f"{name} must be a number between 0 and 1; got {value!r}", name)
    return float(value)


def _date(args: MultiDict[str, str], name: str) -> dt.date | None:
    value = _text(args, name)
    if value is None:
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadQuery(f"{name} must be a date written YYYY-MM-DD; got {value!r}", name) from None


def drop_empty(args: MultiDict[str, str]) -> MultiDict[str, str]:
    """The page's form sends every field, filled or not: an empty one means "not set" there."""
    return MultiDict([(k, v) for k, v in args.items(multi=True) if k == "q" or v.strip()])


def parse_search(args: MultiDict[str, str]) -> SearchRequest:
    """Query-string strings -> SearchRequest; a value of the wrong type, or an empty one, is a BadQuery naming its
    parameter (the API is strict; the page drops its empty form fields first)."""
    if any(not v.strip() for v in args.getlist("source")):
        raise BadQuery("source is empty; leave it out for every source", "source")
    if len(args.getlist("source")) > MAX_SOURCES:
        raise BadQuery(f"at most {MAX_SOURCES} source values; got {len(args.getlist('source'))}", "source")
    if len(args.getlist("q")) > 1:
        raise BadQuery(f"q is given {len(args.getlist('q'))} times; give it once", "q")
    defaults = SearchRequest(q="")
    sources = tuple(dict.fromkeys(s.strip() for s in args.getlist("source") if s.strip()))
    return SearchRequest(
        q=args.get("q", ""),
        mode=_text(args, "mode") or defaults.mode,
        fusion=_text(args, "fusion") or defaults.fusion,
        alpha=_float(args, "alpha", defaults.alpha),
        k=_int(args, "k", defaults.k),
        page=_int(args, "page", defaults.page),
        date_from=_date(args, "date_from"),
        date_to=_date(args, "date_to"),
        sources=sources,
        sort=_text(args, "sort") or defaults.sort,
        group=_text(args, "group") or defaults.group,
        type=_text(args, "type") or defaults.type,
        speaker=_text(args, "speaker"),
    )


def passage_json(passage: Passage) -> dict[str, Any]:
    """A passage as the API shows it: its text and article offsets."""
    return {"text": passage.text, "start": passage.start, "end": passage.end, "heading": passage.heading}


def quotation_json(quotation: Quotation) -> dict[str, Any]:
    """A quotation: the spoken words, its span and parts in the article's text, who said it and in what role."""
    return {
        "text": quotation.text,
        "start": quotation.start,
        "end": quotation.end,
        "parts": [list(p) for p in quotation.parts],
        "speaker": quotation.speaker,
        "role": quotation.role,
        "kind": quotation.kind,
    }


def _hit_head(hit: Hit | QuoteHit, article_id: str) -> dict[str, Any]:
    """The fields both kinds of hit open with: rank, the article's metadata, the scores."""
    return {
        "rank": hit.rank,
        "article_id": article_id,
        "title": hit.title,
        "source": hit.source,
        "url": hit.url,
        "date": hit.date,
        "score": hit.score,
        "scores": asdict(hit.scores),
    }


def quote_hit_json(hit: QuoteHit) -> dict[str, Any]:
    """One quotation hit with its article's title, source and date."""
    return {
        **_hit_head(hit, hit.quotation.article_id),
        "quotation": quotation_json(hit.quotation),
        "speaker_named": hit.speaker_named,
        "highlights": [{"start": s.start, "end": s.end, "kind": s.kind} for s in hit.highlights],
    }


def hit_json(hit: Hit | QuoteHit) -> dict[str, Any]:
    """One hit, every offset an article character offset."""
    if isinstance(hit, QuoteHit):
        return quote_hit_json(hit)
    return {
        **_hit_head(hit, hit.article_id),
        "passage": passage_json(hit.passage),
        "quote": asdict(hit.quote) if hit.quote is not None else None,
        "highlights": [{"start": s.start, "end": s.end, "kind": s.kind} for s in hit.highlights],
        "more_passages": [passage_json(p) for p in hit.more_passages],
        "quotations": [quotation_json(q) for q in hit.quotations],
    }


def result_json(result: SearchResult) -> dict[str, Any]:
    """The search response; the HTML page renders the same SearchResult."""
    return {
        "query": result.query,
        "mode": result.mode,
        "type": result.type,
        "took_ms": result.took_ms,
        "total": result.total,
        "page": result.page,
        "k": result.k,
        "hits": [hit_json(h) for h in result.hits],
        "speakers": [{"name": name, "count": count} for name, count in result.speakers],
    }


def article_json(article: Article, passages: list[Passage], quotes: list[Quotation]) -> dict[str, Any]:
    """The cleaned article with its headings, passages and quotations."""
    return {
        "id": article.id,
        "title": article.title,
        "date": article.date,
        "source": article.source,
        "url": article.url,
        "text": article.text,
        "agencies": list(article.agencies),
        "headings": [{"start": h.start, "end": h.end, "text": h.text} for h in article.headings],
        "passages": [{"ordinal": p.ordinal, "start": p.start, "end": p.end, "heading": p.heading, "text": p.text}
                     for p in passages],
        "quotes": [quotation_json(q) for q in quotes],
    }


def bad_request(exc: BadQuery) -> ResponseReturnValue:
    """BadQuery from parsing or from the engine: 400 naming the parameter."""
    return jsonify(error_body("bad_request", str(exc), exc.param)), 400


@bp.get("/search")
def search() -> ResponseReturnValue:
    """Answer one question."""
    try:
        request = parse_search(flask_request.args)
        result = run_search(request)
    except BadQuery as exc:
        return bad_request(exc)
    return jsonify(result_json(result))


@bp.get("/articles/<path:article_id>")
def article(article_id: str) -> ResponseReturnValue:
    """One cleaned article, for a reader who wants the whole story."""
    found = engine().article(article_id)
    if found is None:
        return jsonify(error_body("not_found", f"no article with id {article_id!r}", "article_id")), 404
    return jsonify(article_json(found, engine().article_passages(article_id), engine().article_quotations(article_id)))


MAX_SPEAKERS = 100


@bp.get("/speakers")
def speakers() -> ResponseReturnValue:
    """Speakers whose name (or a word of it) starts with q, most quotations first: the speaker box completes."""
    try:
        args = flask_request.args
        if len(args.getlist("q")) > 1:
            raise BadQuery("q is given more than once", "q")
        prefix = args.get("q", "").strip()
        if len(prefix) > MAX_SPEAKER_CHARS:
            raise BadQuery(f"q is {len(prefix)} characters; at most {MAX_SPEAKER_CHARS}", "q")
        limit = _int(args, "limit", 20)
        if not 1 <= limit <= MAX_SPEAKERS:
            raise BadQuery(f"limit must be between 1 and {MAX_SPEAKERS}; got {limit}", "limit")
    except BadQuery as exc:
        return bad_request(exc)
    found = engine().speakers(prefix, limit)
    return jsonify({"query": prefix, "speakers": [{"name": name, "count": count} for name, count in found]})


@bp.get("/index")
def index_summary() -> ResponseReturnValue:
    """What is being served: the same fields as `indexer stats --json`."""
    return jsonify(engine().summary())


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The machine-readable description of this API."""
    return jsonify(document())


def http_error(status: int, name: str, description: str | None) -> tuple[dict[str, Any], int]:
    """404, 405 and the like under /api, in the one error shape."""
    codes: Mapping[int, str] = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}
    return error_body(codes.get(status, name.lower().replace(" ", "_")), description or name), status
