"""JSON API: /api/search (GET and POST), /api/speakers, /api/articles/<id>, /api/index, /api/openapi.json.

Requests are read into web/schemas.py's models and answered with them; this module holds the rules no schema can
say (a parameter given twice, `k` with `limit`, `page` with `offset`) and turns the engine's results into the
API's conventions (offsets relative to the text they come with, one date format, a ready snippet).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any, TypeVar, get_origin

from flask import Blueprint, abort, current_app, g
from flask import request as flask_request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ValidationError
from werkzeug.datastructures import MultiDict

from search.errors import BadQuery
from search.highlight import lexical_spans
from search.models import MAX_DEPTH, Article, Hit, Passage, Quotation, QuoteHit, SearchRequest, SearchResult, Span
from search.query import parse_question

from . import render, schemas
from .openapi import document

bp = Blueprint("api", __name__, url_prefix="/api")

Params = TypeVar("Params", bound=schemas.Request)


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
    return schemas.Error(error=schemas.ErrorDetail(code=code, message=message, param=param)).model_dump(mode="json")


def _answer(model: BaseModel, status: int = 200) -> ResponseReturnValue:
    """A response model as JSON, serialized by pydantic (the same model the OpenAPI document shows)."""
    return current_app.response_class(model.model_dump_json(), status=status, mimetype="application/json")


# -- requests ------------------------------------------------------------------------------------------------


def drop_empty(args: MultiDict[str, str]) -> MultiDict[str, str]:
    """The page's form sends every field, filled or not: an empty one means "not set" there."""
    return MultiDict([(k, v) for k, v in args.items(multi=True) if k == "q" or v.strip()])


def _is_list(model: type[schemas.Request], name: str) -> bool:
    return get_origin(model.model_fields[name].annotation) is list


def _unknown(model: type[schemas.Request], name: str) -> BadQuery:
    accepted = ", ".join(model.model_fields)
    return BadQuery(f"unknown parameter {name!r}; accepted: {accepted}", name)


def _check_given(model: type[schemas.Request], fields: Mapping[str, Any]) -> None:
    """The rules before any type: known names only, no value empty or null (leave a field out for its default)."""
    for name, value in fields.items():
        if name not in model.model_fields:
            raise _unknown(model, name)
        blank_ok = model.model_fields[name].default == ""
        values = value if isinstance(value, list) and _is_list(model, name) else [value]
        for one in values:
            if one is None:
                raise BadQuery(f"{name} is null; leave it out for the default", name)
            if isinstance(one, str) and not one.strip() and not blank_ok:
                raise BadQuery(f"{name} is empty; leave it out for the default", name)


def _bad_query(exc: ValidationError) -> BadQuery:
    """pydantic's first complaint as a BadQuery naming the parameter."""
    error = exc.errors(include_url=False)[0]
    param = str(error["loc"][0]) if error["loc"] else "body"  # no location: the body itself (not JSON)
    if error["type"] == "missing":
        return BadQuery(f"{param} is required" + (": type a question" if param == "q" else ""), param)
    reason = str(error["ctx"]["error"]) if error["type"] == "value_error" else error["msg"]
    given = error.get("input")
    shown = f"; got {given!r}" if isinstance(given, (str, int, float)) and len(repr(given)) <= 40 else ""
    return BadQuery(f"{param}: {reason[:1].lower()}{reason[1:]}{'' if 'got ' in reason else shown}", param)


def read_query(model: type[Params], args: MultiDict[str, str], known_only: bool = True) -> Params:
    """Query-string strings -> the model (lax: "10" is a number here); a parameter given twice is a BadQuery.

    known_only=False ignores names the model does not know (the page's own links carry other fields)."""
    fields: dict[str, Any] = {}
    for name in args:
        if name not in model.model_fields:
            if known_only:
                raise _unknown(model, name)
            continue
        values = args.getlist(name)
        if _is_list(model, name):
            fields[name] = values
        elif len(values) > 1:
            raise BadQuery(f"{name} is given {len(values)} times; give it once", name)
        else:
            fields[name] = values[0]
    _check_given(model, fields)
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise _bad_query(exc) from None


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for name, value in pairs:
        if name in seen:
            raise BadQuery(f"{name} is given twice; give it once", name)
        seen[name] = value
    return seen


def read_body(model: type[Params]) -> Params:
    """A JSON object -> the model (strict: "10" is not a number in JSON); the same rules as the query string."""
    if flask_request.args:
        name = next(iter(flask_request.args))
        raise BadQuery(f"a POST takes its fields in the JSON body, not the query string; got {name!r}", name)
    if not flask_request.is_json:
        abort(415, description=f"send the body as application/json; got {flask_request.mimetype or 'none'!r}")
    limit = int(current_app.config["MAX_BODY_BYTES"])
    raw = flask_request.stream.read(limit + 1)  # bounded even when no Content-Length was sent
    if len(raw) > limit:
        raise BadQuery(f"request body over {limit} bytes", "body")
    try:
        fields = json.loads(raw, object_pairs_hook=_no_repeats)
    except (ValueError, RecursionError) as exc:
        raise BadQuery(f"the body is not JSON: {str(exc)[:120]}", "body") from None
    if not isinstance(fields, dict):
        raise BadQuery(f"the body must be a JSON object; got {type(fields).__name__}", "body")
    _check_given(model, fields)
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        raise _bad_query(exc) from None


def search_request(params: schemas.SearchParams) -> SearchRequest:
    """The validated fields -> the engine's SearchRequest; the rules that take two fields."""
    given = params.model_fields_set
    if "limit" in given and "k" in given:
        raise BadQuery("limit is another name for k; give one of them", "limit")
    if "offset" in given and "page" in given:
        raise BadQuery("give page or offset, not both", "offset")
    k = params.limit if params.limit is not None else params.k
    if params.offset is not None and params.offset + k > MAX_DEPTH:
        raise BadQuery(f"offset + k must be at most {MAX_DEPTH}; got {params.offset + k}", "offset")
    return SearchRequest(
        q=params.q, mode=params.mode, fusion=params.fusion, alpha=params.alpha, k=k, page=params.page,
        date_from=params.date_from, date_to=params.date_to, sources=tuple(dict.fromkeys(params.source)),
        sort=params.sort, group=params.group, type=params.type, speaker=params.speaker, offset=params.offset,
    )


def parse_search(args: MultiDict[str, str], known_only: bool = False) -> SearchRequest:
    """Query-string strings -> SearchRequest; a value of the wrong type, or an empty one, is a BadQuery naming its
    parameter (the page drops its empty form fields first; the API also refuses names it does not know)."""
    return search_request(read_query(schemas.SearchParams, args, known_only))


# -- responses -----------------------------------------------------------------------------------------------


def dates(value: str | None, has_time: bool) -> tuple[dt.date | None, dt.datetime | None]:
    """The ISO string as read -> the day, and the time when the source gave one (no zone: UTC, as Elasticsearch)."""
    if not value:
        return None, None
    try:
        day = dt.date.fromisoformat(value[:10])
    except ValueError:
        return None, None
    if not has_time:
        return day, None
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        return day, None
    return day, stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.timezone.utc)


def _has_time(value: str | None) -> bool:
    """Article.has_time's rule, for a hit, which carries the article's date string but not the article."""
    return Article(id="", title="", text="", date=value).has_time


def relative(spans: Iterable[Span], start: int, length: int) -> list[schemas.Span]:
    """Article offsets -> offsets into the text that begins at `start`, clipped to its length."""
    out = []
    for span in spans:
        a, b = max(span.start - start, 0), min(span.end - start, length)
        if a < b:
            out.append(schemas.Span(start=a, end=b, kind=span.kind))
    return out


def passage_model(passage: Passage) -> schemas.Passage:
    return schemas.Passage(ordinal=passage.ordinal, text=passage.text, start=passage.start, end=passage.end,
                           heading=passage.heading)


def quotation_model(quotation: Quotation) -> schemas.Quotation:
    return schemas.Quotation(
        text=quotation.text, start=quotation.start, end=quotation.end, parts=[list(p) for p in quotation.parts],
        speaker=quotation.speaker, role=quotation.role, kind=quotation.kind, speaker_kind=quotation.speaker_kind,
    )


def _head(hit: Hit | QuoteHit, article_id: str, snippet: str) -> dict[str, Any]:
    """The fields both kinds of hit open with."""
    day, time = dates(hit.date, _has_time(hit.date))
    return {"rank": hit.rank, "article_id": article_id, "title": hit.title, "source": hit.source, "url": hit.url,
            "date": day, "datetime": time, "dateline": hit.dateline, "score": hit.score,
            "scores": schemas.Scores(**{f: getattr(hit.scores, f) for f in schemas.Scores.model_fields}),
            "snippet": snippet}


def article_hit(hit: Hit) -> schemas.Hit:
    """An article hit: the quote and highlights relative to its passage, each other passage with its own."""
    passage = hit.passage
    focus = (hit.quote.start, hit.quote.end) if hit.quote else None
    quote = None
    if hit.quote is not None:
        a = min(max(hit.quote.start - passage.start, 0), len(passage.text))
        quote = schemas.Quote(text=hit.quote.text, start=a, end=max(a, min(hit.quote.end - passage.start,
                                                                            len(passage.text))))
    more = [schemas.MorePassage(**passage_model(p).model_dump(),
                                highlights=relative(spans, p.start, len(p.text)))
            for p, spans in zip(hit.more_passages, [*hit.more_highlights, *[()] * len(hit.more_passages)])]
    return schemas.Hit(
        **_head(hit, hit.article_id, str(render.snippet(passage.text, hit.highlights, passage.start, focus))),
        passage=passage_model(passage), quote=quote,
        highlights=relative(hit.highlights, passage.start, len(passage.text)),
        more_passages=more, quotations=[quotation_model(q) for q in hit.quotations],
    )


def quote_hit(hit: QuoteHit, terms: set[str], phrases: tuple[str, ...]) -> schemas.QuoteHit:
    """A quotation hit: the question's words marked on the quotation's own text."""
    spans = lexical_spans(hit.quotation.text, 0, terms, phrases)
    return schemas.QuoteHit(
        **_head(hit, hit.quotation.article_id, str(render.mark(hit.quotation.text, spans))),
        quotation=quotation_model(hit.quotation), speaker_named=hit.speaker_named,
        highlights=relative(spans, 0, len(hit.quotation.text)),
    )


def result_model(result: SearchResult) -> schemas.SearchResult:
    """The search response; the HTML page renders the same SearchResult."""
    parsed = parse_question(result.query)
    terms, phrases = set(parsed.marked_terms), parsed.phrases

    def hit(one: Hit | QuoteHit) -> schemas.Hit | schemas.QuoteHit:
        return quote_hit(one, terms, phrases) if isinstance(one, QuoteHit) else article_hit(one)

    def counts(pairs: Iterable[tuple[str, int]]) -> list[schemas.Count]:
        return [schemas.Count(name=name, count=count) for name, count in pairs]

    return schemas.SearchResult(
        query=result.query, mode=result.mode, type=result.type, took_ms=result.took_ms,
        total=schemas.Total(value=result.total, relation=result.total_relation),
        page=result.page, k=result.k, offset=result.offset,
        hits=[hit(h) for h in result.hits], near_misses=[hit(h) for h in result.near_misses],
        facets=schemas.Facets(sources=counts(result.facets.sources), speakers=counts(result.facets.speakers),
                              unnamed=result.facets.unnamed),
        notices=[schemas.Notice(code=n.code, message=n.message) for n in result.notices],
    )


def article_model(article: Article, passages: list[Passage], quotes: list[Quotation]) -> schemas.Article:
    """The cleaned article with its headings, passages and quotations; offsets into its text."""
    day, time = dates(article.date, article.has_time)
    return schemas.Article(
        id=article.id, title=article.headline, date=day, datetime=time, dateline=article.dateline,
        source=article.source, url=article.url, text=article.text, agencies=list(article.agencies),
        headings=[schemas.Heading(start=h.start, end=h.end, text=h.text) for h in article.headings],
        passages=[passage_model(p) for p in passages], quotes=[quotation_model(q) for q in quotes],
    )


def model_name(name: str) -> str:
    """A model given as a local folder is shown by its folder's name: the server's paths stay private."""
    if name.startswith(("/", "./", "../", "~")) or "\\" in name or (len(name) > 1 and name[1] == ":"):
        return PurePath(name.replace("\\", "/")).name
    return name


def summary_model(summary: Mapping[str, Any]) -> schemas.IndexSummary:
    """`indexer stats --json` without `path`."""
    fields = {name: summary.get(name) for name in schemas.IndexSummary.model_fields}
    fields["model"] = model_name(str(fields["model"] or ""))
    return schemas.IndexSummary(**fields)


# -- endpoints -----------------------------------------------------------------------------------------------


@bp.errorhandler(BadQuery)
def bad_request(exc: BadQuery) -> ResponseReturnValue:
    """BadQuery from reading the request or from the engine: 400 naming the parameter."""
    return error_body("bad_request", str(exc), exc.param), 400


def _no_params() -> None:
    """Paths without parameters refuse any, like the others refuse unknown ones."""
    if flask_request.args:
        name = next(iter(flask_request.args))
        raise BadQuery(f"unknown parameter {name!r}; this path takes none", name)


@bp.get("/search")
def search() -> ResponseReturnValue:
    """Answer one question, asked in the query string."""
    return _answer(result_model(run_search(parse_search(flask_request.args, known_only=True))))


@bp.post("/search")
def search_post() -> ResponseReturnValue:
    """Answer one question, asked as a JSON body (Meilisearch's and Elasticsearch's habit)."""
    return _answer(result_model(run_search(search_request(read_body(schemas.SearchParams)))))


@bp.get("/articles/<path:article_id>")
def article(article_id: str) -> ResponseReturnValue:
    """One cleaned article, for a reader who wants the whole story."""
    _no_params()
    found = engine().article(article_id)
    if found is None:
        return error_body("not_found", f"no article with id {article_id!r}", "article_id"), 404
    return _answer(article_model(found, engine().article_passages(article_id),
                                 engine().article_quotations(article_id)))


@bp.get("/speakers")
def speakers() -> ResponseReturnValue:
    """Speakers whose name (or a word of it) starts with q, most quotations first: the speaker box completes."""
    params = read_query(schemas.SpeakersParams, flask_request.args)
    found = engine().speakers(params.q, params.limit)
    return _answer(schemas.SpeakerList(query=params.q, speakers=[schemas.Count(name=n, count=c) for n, c in found]))


@bp.get("/index")
def index_summary() -> ResponseReturnValue:
    """What is being served: the fields of `indexer stats --json`, less the server's path."""
    _no_params()
    return _answer(summary_model(engine().summary()))


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The machine-readable description of this API."""
    _no_params()
    return document()


def http_error(status: int, name: str, description: str | None) -> tuple[dict[str, Any], int]:
    """404, 405 and the like under /api, in the one error shape."""
    codes: Mapping[int, str] = {404: "not_found", 405: "method_not_allowed", 400: "bad_request",
                                415: "unsupported_media_type"}
    return error_body(codes.get(status, name.lower().replace(" ", "_")), description or name), status
