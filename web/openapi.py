"""The OpenAPI 3.1 document, assembled from web/schemas.py: the paths are written here, every schema comes from
the models that also validate requests and serialize responses, so the document cannot drift from the code."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from . import schemas

REF = "#/components/schemas/{model}"


class _Generator(GenerateJsonSchema):
    """pydantic's JSON Schema without a title on every field (the field's name already says it)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """A request model's fields as query parameters: an array field is repeated (source=DW&source=AP)."""
    schema = model.model_json_schema(ref_template=REF, schema_generator=_Generator)
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        param = {"name": name, "in": "query", "required": name in required,
                 "description": prop.pop("description", ""), "schema": prop}
        if prop.get("type") == "array":
            param.update(style="form", explode=True)
        out.append(param)
    return out


_ERRORS = {
    "404": _json("Error", "Unknown path or id"),
    "405": _json("Error", "Method not allowed (the Allow header lists the allowed ones)"),
    "500": _json("Error", "Internal error; no details are exposed"),
}
_BAD = _json("Error", "A bad parameter, named in error.param: a wrong value, one given twice or empty, or an unknown "
                      "name (the message lists the accepted ones); `body` for a request body over 16 KB")
_TIMEOUT = _json("Error", "The search ran past the server's time limit (error.code `timeout`), or, on a sharded "
                          "server, a shard had no replica answering (`shard_unavailable`, the message names it: never a "
                          "partial answer); a Retry-After header says when to try again")
_NO_PARAMS = {"400": _json("Error", "This path takes no query parameters")}


_SECURITY = [{"bearer": []}]
_INGEST_ERRORS = {
    "401": {**_json("Error", "No `Authorization: Bearer <token>`, or a wrong token (error.code `unauthorized`)"),
            "headers": {"WWW-Authenticate": {"required": True, "schema": {"type": "string"},
                                             "description": "Bearer realm=\"newsclip\" (error=\"invalid_token\" "
                                                            "for a wrong one)"}}},
    "404": _json("Error", "The ingest API is not enabled on this server (error.code `ingest_disabled`: it is off "
                          "unless a token is configured), or an unknown path"),
    "405": _ERRORS["405"],
    "413": _json("Error", "The request body is over the ingest limit (10 MB by default; error.code "
                          "`payload_too_large`): send the batch as several requests"),
    "500": _ERRORS["500"],
    "503": {**_json("Error", "Not acknowledged, nothing was written: another writer (a commit, a rebuild) held the "
                             "index past the lock timeout (`writer_busy`), or the journal could not be written "
                             "(`journal_unavailable`); try again after Retry-After seconds"),
            "headers": {"Retry-After": {"required": True, "schema": {"type": "string"},
                                        "description": "Seconds to wait before trying again"}}},
}
_INGEST_BAD = _json("Error", "The request is refused whole: a query parameter (these paths take none), or a body that "
                             "is not one valid article (error.param names the field; `body` when it is not a JSON "
                             "object)")
_MEDIA = _json("Error", "The body is not in an accepted media type, not UTF-8, or compressed")
_ID_PARAM = {"name": "article_id", "in": "path", "required": True,
             "description": "The article's id (percent-encoded in the path)",
             "schema": {"type": "string", "minLength": 1, "maxLength": schemas.MAX_ID_CHARS,
                        "pattern": schemas.ID_PATTERN}}
_DURABLE = ("The write is appended to the index's journal and fdatasynced before the 202: acknowledged, it survives "
            "kill -9 of any process. It becomes searchable once `indexer follow` commits it (usually within a "
            "second or two); `seq` orders the writes.")


def _ingest() -> dict[str, Any]:
    """POST /api/articles, PUT and DELETE /api/articles/{article_id}."""
    post = {
        "operationId": "ingest_articles",
        "summary": "Add or replace articles: one as JSON, or a batch as NDJSON",
        "description": "With `Content-Type: application/json`, the body is one ArticleIn object; an invalid one "
                       "is a 400. With `Content-Type: application/x-ndjson`, each line is one ArticleIn object (the "
                       "array in this schema is the lines, each element sent as one line of JSON); each line is "
                       "accepted or refused on its own, like Elasticsearch's bulk API, so the answer is a 202 with "
                       "an item per article (`errors` says whether any was refused). Articles with the same id: "
                       "the last one written wins. " + _DURABLE,
        "security": _SECURITY,
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"allOf": [_ref("ArticleIn"), schemas.IDENTIFIED]}},
            "application/x-ndjson": {"schema": {"type": "array", "minItems": 1,
                                                "items": {"allOf": [_ref("ArticleIn"), schemas.IDENTIFIED]}}},
        }},
        "responses": {"202": _json("BulkResult", "Journaled: a result per article, in the order sent"),
                      "400": _INGEST_BAD, "415": _MEDIA, **_INGEST_ERRORS},
    }
    put = {
        "operationId": "ingest_article",
        "summary": "Add or replace the article with this id",
        "description": "The body is one ArticleIn object as JSON; the path names the article (an id in the body "
                       "must be the same, else a 400). " + _DURABLE,
        "security": _SECURITY,
        "parameters": [_ID_PARAM],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ArticleIn")}}},
        "responses": {"202": _json("WriteAccepted", "Journaled"), "400": _INGEST_BAD, "415": _MEDIA,
                      **_INGEST_ERRORS},
    }
    delete = {
        "operationId": "delete_article",
        "summary": "Take the article down",
        "description": "Once committed (usually within a second), the article is gone from every answer and its "
                       "text purged from the index's files. An id that is not live is no error: the delete is "
                       "journaled and changes nothing. " + _DURABLE,
        "security": _SECURITY,
        "parameters": [_ID_PARAM],
        "responses": {"202": _json("WriteAccepted", "Journaled"),
                      "400": _json("Error", "A query parameter, or an id that breaks the id rules"),
                      **_INGEST_ERRORS},
    }
    return {"post": post, "put": put, "delete": delete}


def _search(method: str) -> dict[str, Any]:
    """GET and POST /api/search: the same fields, as query parameters or as a JSON body."""
    operation: dict[str, Any] = {
        "operationId": f"search_{method}",
        "summary": "Answer a question",
        "responses": {"200": _json("SearchResult", "A page of hits"), "400": _BAD, "503": _TIMEOUT, **_ERRORS},
    }
    if method == "get":
        operation["parameters"] = parameters(schemas.SearchParams)
    else:
        operation["description"] = "The fields of GET /api/search as a JSON object (at most 16 KB), validated alike"
        operation["requestBody"] = {"required": True,
                                    "content": {"application/json": {"schema": _ref("SearchParams")}}}
        operation["responses"]["415"] = _json("Error", "The body is not sent as application/json")
    return operation


def _paths() -> dict[str, Any]:
    ingest = _ingest()
    return {
        "/api/search": {"get": _search("get"), "post": _search("post")},
        "/api/speakers": {"get": {
            "operationId": "speakers",
            "summary": "Speakers by name prefix, with their counts of quotations",
            "parameters": parameters(schemas.SpeakersParams),
            "responses": {"200": _json("SpeakerList", "Matching speakers, most quotations first"), "400": _BAD,
                          **_ERRORS},
        }},
        "/api/articles": {"post": ingest["post"]},
        "/api/articles/{article_id}": {"get": {
            "operationId": "article",
            "summary": "One cleaned article with its headings, passages and quotations",
            "parameters": [{"name": "article_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": _json("Article", "The article"), **_NO_PARAMS, **_ERRORS},
        }, "put": ingest["put"], "delete": ingest["delete"]},
        "/api/index": {"get": {
            "operationId": "index",
            "summary": "The index being served",
            "responses": {"200": _json("IndexSummary", "Index summary"), **_NO_PARAMS, **_ERRORS},
        }},
        "/api/openapi.json": {"get": {
            "operationId": "openapi",
            "summary": "This document",
            "responses": {"200": {"description": "OpenAPI 3.1 document",
                                  "content": {"application/json": {"schema": {"type": "object"}}}},
                          **_NO_PARAMS, **_ERRORS},
        }},
        "/healthz": {"get": {
            "operationId": "health",
            "summary": "Liveness and the build being served",
            "responses": {"200": _json("Health", "Serving"), "500": _ERRORS["500"]},
        }},
    }


@cache
def _document() -> dict[str, Any]:
    models = [(model, "serialization") for model in schemas.RESPONSES]
    _, top = models_json_schema([*models, (schemas.SearchParams, "validation"), (schemas.ArticleIn, "validation")],
                                ref_template=REF, schema_generator=_Generator)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Newsclip API",
            "version": "2",
            "description": "Search a news archive: BM25 and dense passages, the best quote highlighted; quotations "
                           "with their speakers. Highlights and the quote are offsets into the text they come "
                           "with (a hit's passage.text, each more_passages text, a quotation hit's "
                           "quotation.text); passage, quotation and article offsets are into the article's text. "
                           "Dates: `date` is the day (YYYY-MM-DD), `datetime` an RFC 3339 time or null. "
                           "Writes (POST /api/articles, PUT and DELETE /api/articles/{article_id}) take a bearer "
                           "token and are off unless the server has one configured.",
        },
        "paths": _paths(),
        "components": {
            "schemas": top["$defs"],
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "The ingest token (NEWSCLIP_INGEST_TOKEN or NEWSCLIP_INGEST_TOKEN_FILE); the "
                               "ingest API is off without one"}},
        },
    }


def document() -> dict[str, Any]:
    """A fresh copy, so no caller can change what the next request serves."""
    return copy.deepcopy(_document())
