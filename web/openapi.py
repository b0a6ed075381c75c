"""The OpenAPI 3.1 document of the JSON API; tests validate every real response against it."""

from __future__ import annotations

import copy
from typing import Any

from search.models import (
    FUSIONS, GROUPS, MAX_K, MAX_QUERY_CHARS, MAX_SPEAKER_CHARS, MODES, QUOTE_KINDS, SORTS, TYPES,
)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """A closed object: every documented field present, nothing undocumented."""
    return {"type": "object", "properties": properties, "required": required or list(properties),
            "additionalProperties": False}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_INT = {"type": "integer"}
_STR = {"type": "string"}
_NUM = {"type": "number"}
_DATE = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}

# The fields both kinds of hit open with (web/api.py's _hit_head).
_HIT_HEAD: dict[str, Any] = {
        "rank": {"type": "integer", "minimum": 1},
        "article_id": _STR,
        "title": _STR,
        "source": _nullable(_STR),
        "url": _nullable(_STR),
        "date": _nullable({"type": "string", "description": "ISO 8601 date or date-time", "pattern": r"^\d{4}-\d{2}-\d{2}"}),
        "score": _NUM,
        "scores": _ref("Scores"),
}

_SCHEMAS: dict[str, Any] = {
    "Error": _obj({"error": _obj({
        "code": {"type": "string", "examples": ["bad_request", "not_found", "method_not_allowed", "timeout",
                                                 "internal_error"]},
        "message": _STR,
        "param": _nullable(_STR),
    })}),
    "Passage": _obj({
        "text": _STR, "start": {"type": "integer", "minimum": 0}, "end": {"type": "integer", "minimum": 0},
        "heading": _nullable(_STR),
    }),
    "Quote": _obj({"text": _STR, "start": {"type": "integer", "minimum": 0}, "end": {"type": "integer", "minimum": 0}}),
    "Span": _obj({"start": {"type": "integer", "minimum": 0}, "end": {"type": "integer", "minimum": 0},
                  "kind": {"enum": ["lexical", "semantic"]}}),
    "Scores": _obj({
        "bm25": _nullable(_NUM), "bm25_rank": _nullable({"type": "integer", "minimum": 1}),
        "dense": _nullable(_NUM), "dense_rank": _nullable({"type": "integer", "minimum": 1}), "fused": _NUM,
    }),
    "Quotation": _obj({
        "text": {"type": "string", "description": "The spoken words: the parts joined by a space, white space "
                 "folded, the comma that hands over to the attribution dropped"},
        "start": {"type": "integer", "minimum": 0, "description": "Where the first part begins in the article's text"},
        "end": {"type": "integer", "minimum": 0, "description": "Where the last part ends (marks excluded)"},
        "parts": {"type": "array", "minItems": 1, "description": "[start, end) of each quoted run, marks excluded; "
                  "a quotation split around its attribution has two",
                  "items": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 2,
                            "maxItems": 2}},
        "speaker": _nullable({"type": "string", "description": "Fullest name the article gives, or a description "
                                                               "(\"a ministry spokesman\"); null when unattributed"}),
        "role": _nullable({"type": "string", "description": "Title kept out of the name (\"President\")"}),
        "kind": {"enum": list(QUOTE_KINDS), "description": "full: direct speech; partial: a phrase quoted inside "
                 "the reporter's sentence; term: scare quotes, nobody's words (never a search hit)"},
    }),
    "Speaker": _obj({"name": _STR, "count": {"type": "integer", "minimum": 1,
                                            "description": "Quotations (full and partial) by this speaker"}}),
    "QuoteHit": _obj({
        **_HIT_HEAD,
        "quotation": _ref("Quotation"),
        "speaker_named": {"type": "boolean", "description": "The question named this speaker, which ranks their "
                                                            "quotations first"},
        "highlights": {"type": "array", "items": _ref("Span")},
    }),
    "Hit": _obj({
        **_HIT_HEAD,
        "passage": _ref("Passage"),
        "quote": _nullable(_ref("Quote")),
        "highlights": {"type": "array", "items": _ref("Span")},
        "more_passages": {"type": "array", "items": _ref("Passage")},
        "quotations": {"type": "array", "items": _ref("Quotation"), "maxItems": 3,
                       "description": "The article's quotations that match the question, best first"},
    }),
    "SearchResult": _obj({
        "query": _STR, "mode": {"enum": list(MODES)}, "type": {"enum": list(TYPES)},
        "took_ms": {"type": "number", "minimum": 0},
        "total": {"type": "integer", "minimum": 0}, "page": {"type": "integer", "minimum": 1},
        "k": {"type": "integer", "minimum": 1, "maximum": MAX_K},
        "hits": {"type": "array", "items": {"anyOf": [_ref("Hit"), _ref("QuoteHit")]},
                 "description": "Hit objects with type=articles, QuoteHit objects with type=quotes"},
        "speakers": {"type": "array", "items": _ref("Speaker"),
                     "description": "type=quotes: speakers of the matching quotations (without the speaker filter), "
                                    "most first; empty with type=articles"},
    }),
    "Article": _obj({
        "id": _STR, "title": _STR, "date": _nullable(_STR), "source": _nullable(_STR), "url": _nullable(_STR),
        "text": _STR,
        "agencies": {"type": "array", "items": _STR},
        "headings": {"type": "array", "items": _obj({"start": _INT, "end": _INT, "text": _STR})},
        "passages": {"type": "array", "items": _obj({
            "ordinal": {"type": "integer", "minimum": 0}, "start": _INT, "end": _INT, "heading": _nullable(_STR),
            "text": _STR,
        })},
        "quotes": {"type": "array", "items": _ref("Quotation"), "description": "Every quotation, in reading order"},
    }),
    "IndexSummary": {
        "type": "object",
        "description": "The same fields as `indexer stats --json`",
        "properties": {
            "build_id": _STR, "format_version": _INT, "built_at": _STR, "articles": _INT, "passages": _INT,
            "skipped": _nullable(_INT), "quotes": _nullable(_INT), "speakers": _nullable(_INT), "model": _STR, "dimension": _INT, "dense_index": _nullable(_STR),
            "sources": _INT, "bytes": _INT, "path": _STR,
        },
        "required": ["build_id", "format_version", "built_at", "articles", "passages", "model", "dimension",
                     "sources", "bytes"],
    },
    "Health": _obj({"status": {"const": "ok"}, "build_id": _STR}),
}

_ERRORS = {
    "404": _json(_ref("Error"), "Unknown path or id"),
    "405": _json(_ref("Error"), "Method not allowed"),
    "500": _json(_ref("Error"), "Internal error; no details are exposed"),
}


def _param(name: str, schema: dict[str, Any], description: str, required: bool = False,
           explode: bool | None = None) -> dict[str, Any]:
    out = {"name": name, "in": "query", "required": required, "schema": schema, "description": description}
    if explode is not None:
        out.update(style="form", explode=explode)
    return out


_SEARCH_PARAMS = [
    _param("q", {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS},
           'The question; "quoted phrases" must match verbatim, -term excludes', required=True),
    _param("mode", {"enum": list(MODES), "default": "hybrid"}, "Retrieval mode"),
    _param("fusion", {"enum": list(FUSIONS), "default": "linear"}, "How hybrid mode fuses the two legs"),
    _param("alpha", {"type": "number", "minimum": 0, "maximum": 1, "default": 0.7},
           "Weight of the dense leg with fusion=linear"),
    _param("k", {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 10}, "Hits per page"),
    _param("page", {"type": "integer", "minimum": 1, "default": 1}, "Page number; page * k is at most 1000"),
    _param("date_from", _DATE, "Earliest publication day, inclusive"),
    _param("date_to", _DATE, "Latest publication day, inclusive"),
    _param("source", {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 20},
           "Source names; repeat for several",
           explode=True),
    _param("sort", {"enum": list(SORTS), "default": "relevance"}, "relevance, or date (newest first)"),
    _param("group", {"enum": list(GROUPS), "default": "article"}, "One hit per article, or per passage"),
    _param("type", {"enum": list(TYPES), "default": "articles"},
           "articles: articles with their best passage; quotes: quotations ranked by the same hybrid search over "
           "quote texts, a speaker the question names first, no article more than twice before the others"),
    _param("speaker", {"type": "string", "minLength": 1, "maxLength": MAX_SPEAKER_CHARS},
           'Only quotations (or, with type=articles, articles quoting) this speaker: the full name or its last '
           'words ("Putin")'),
]

_DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Newsclip API",
        "version": "1",
        "description": "Search a news archive: BM25 and dense passages, the best quote highlighted; "
                       "quotations with their speakers. "
                       "All offsets are character offsets into the article's text.",
    },
    "paths": {
        "/api/search": {"get": {
            "operationId": "search",
            "summary": "Answer a question",
            "parameters": _SEARCH_PARAMS,
            "responses": {
                "200": _json(_ref("SearchResult"), "A page of hits"),
                "400": _json(_ref("Error"), "A bad parameter, named in error.param (`body` for a request body "
                                            "over the limit)"),
                "503": _json(_ref("Error"), "The search ran past the server's time limit (error.code `timeout`); "
                                            "a Retry-After header says when to try again"),
                **_ERRORS,
            },
        }},
        "/api/speakers": {"get": {
            "operationId": "speakers",
            "summary": "Speakers by name prefix, with their counts of quotations",
            "parameters": [
                _param("q", {"type": "string", "maxLength": MAX_SPEAKER_CHARS, "default": ""},
                       "Prefix of the name or of one of its words (case-insensitive); empty lists the most quoted"),
                _param("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "At most this many"),
            ],
            "responses": {
                "200": _json(_obj({"query": _STR, "speakers": {"type": "array", "items": _ref("Speaker")}}),
                             "Matching speakers, most quotations first"),
                "400": _json(_ref("Error"), "A bad parameter, named in error.param"),
                **_ERRORS,
            },
        }},
        "/api/articles/{article_id}": {"get": {
            "operationId": "article",
            "summary": "One cleaned article with its headings, passages and quotations",
            "parameters": [{"name": "article_id", "in": "path", "required": True, "schema": _STR}],
            "responses": {"200": _json(_ref("Article"), "The article"), **_ERRORS},
        }},
        "/api/index": {"get": {
            "operationId": "index",
            "summary": "The index being served",
            "responses": {"200": _json(_ref("IndexSummary"), "Index summary"), **_ERRORS},
        }},
        "/api/openapi.json": {"get": {
            "operationId": "openapi",
            "summary": "This document",
            "responses": {"200": {"description": "OpenAPI 3.1 document",
                                  "content": {"application/json": {"schema": {"type": "object"}}}}, **_ERRORS},
        }},
        "/healthz": {"get": {
            "operationId": "health",
            "summary": "Liveness and the build being served",
            "responses": {"200": _json(_ref("Health"), "Serving"), "500": _ERRORS["500"]},
        }},
    },
    "components": {"schemas": _SCHEMAS},
}


def document() -> dict[str, Any]:
    """A fresh copy, so no caller can change what the next request serves."""
    return copy.deepcopy(_DOCUMENT)
