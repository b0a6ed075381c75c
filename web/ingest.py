"""The ingest API: POST /api/articles (one article as JSON, or a batch as NDJSON), PUT and DELETE /api/articles/<id>.

The web server never indexes (web imports search, never indexer): a write is validated, appended to the index's
journal and fdatasynced under the index's writer lock, and only then answered 202 with its journal sequence
number. `indexer follow` (which `python -m web` starts beside the server) commits the journal, and every server
of the index serves the commit within RELOAD_INTERVAL. So an acknowledged write survives kill -9 of any process,
and searches never wait for a write.

Off unless a token is configured (INGEST_TOKEN, or INGEST_TOKEN_FILE's first line; NEWSCLIP_INGEST_TOKEN and
NEWSCLIP_INGEST_TOKEN_FILE in the environment): then every request needs `Authorization: Bearer <token>`, compared
in constant time. The order of refusals: off (404), no or a wrong token (401), body over INGEST_MAX_BYTES (413),
query parameters (400), media type (415), content (400), a writer holding the index past INGEST_LOCK_TIMEOUT
seconds (503 with Retry-After).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from hashlib import sha1
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app
from flask import request as flask_request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ValidationError

from search.commit import read_commit
from search.errors import NewsclipError
from search.journal import Add, Delete, Journal, JournalError, JournalLock, Record, WriterBusy
from search.layout import current_build

from . import schemas

log = logging.getLogger(__name__)

bp = Blueprint("ingest", __name__, url_prefix="/api")

EXTENSION = "newsclip_ingest"
NDJSON = "application/x-ndjson"
REALM = 'Bearer realm="newsclip"'
# What the committer's JSONL reader (indexer/sources/jsonl.py parse_record, indexer/sources/clean.py) removes before
# it decides an article has no text; mirrored here so that an accepted article is never dropped when committed.
_NEWLINES = re.compile(r"\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufeff]")
_SIGN_OFF = re.compile(r"\n[^\S\n]*reuter[^\S\n]*$", re.IGNORECASE)


class IngestConfigError(NewsclipError):
    """The ingest settings cannot be used (both a token and a token file, an unreadable or empty file)."""


@dataclass(frozen=True)
class Settings:
    """The ingest API's settings, read once when the app is made."""

    token: bytes | None  # None: the API is off
    max_bytes: int
    lock_timeout: float
    index_dir: Path
    lock: threading.Lock  # this process's writers queue here, not by polling the writer lock's file


def read_settings(config: Mapping[str, Any]) -> Settings:
    """INGEST_TOKEN or INGEST_TOKEN_FILE (its first line), INGEST_MAX_BYTES, INGEST_LOCK_TIMEOUT; refused loudly
    when unusable, before the index is opened."""
    token, path = config.get("INGEST_TOKEN"), config.get("INGEST_TOKEN_FILE")
    if token not in (None, "") and path not in (None, ""):
        raise IngestConfigError("give the ingest token (NEWSCLIP_INGEST_TOKEN) or a token file "
                                "(NEWSCLIP_INGEST_TOKEN_FILE), not both")
    if path not in (None, ""):
        try:
            lines = Path(str(path)).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise IngestConfigError(f"cannot read the ingest token file {path}: {exc}") from None
        token = lines[0].strip() if lines else ""
        if not token:
            raise IngestConfigError(f"the ingest token file {path} has no token on its first line")
    value = None
    if token not in (None, ""):
        text = str(token)
        if not re.fullmatch(r"[\x21-\x7e]+", text):
            raise IngestConfigError("the ingest token must be printable ASCII without spaces (an HTTP header value)")
        if len(text) < 16:
            log.warning("the ingest token has %d characters; use 32 or more random ones", len(text))
        value = text.encode("ascii")
    max_bytes = int(config.get("INGEST_MAX_BYTES") or 0)
    if max_bytes <= 0:
        raise IngestConfigError(f"INGEST_MAX_BYTES must be a positive number of bytes; got {max_bytes}")
    return Settings(value, max_bytes, float(config.get("INGEST_LOCK_TIMEOUT") or 0), Path(config["INDEX"]),
                    threading.Lock())


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions[EXTENSION] = settings
    app.register_blueprint(bp)


def enabled(app: Flask) -> bool:
    """True when a token is configured."""
    settings = getattr(app, "extensions", {}).get(EXTENSION)
    return settings is not None and settings.token is not None


def _settings() -> Settings:
    return current_app.extensions[EXTENSION]


class IngestError(Exception):
    """A refusal: status, the error shape's code, message and param, and headers."""

    def __init__(self, status: int, code: str, message: str, param: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.param = status, code, message, param
        self.headers = dict(headers or {})


@bp.errorhandler(IngestError)
def refused(exc: IngestError) -> ResponseReturnValue:
    body = schemas.Error(error=schemas.ErrorDetail(code=exc.code, message=exc.message, param=exc.param))
    response = current_app.response_class(body.model_dump_json(), status=exc.status, mimetype="application/json")
    response.headers.update(exc.headers)
    return response


def _answer(model: BaseModel) -> ResponseReturnValue:
    return current_app.response_class(model.model_dump_json(), status=202, mimetype="application/json")


# -- the gate: on, authorized, within the limit ---------------------------------------------------------------


@bp.before_request
def gate() -> None:
    """Before anything is read: off is a 404, a missing or wrong token a 401, a declared body over the limit a 413."""
    settings = _settings()
    if settings.token is None:
        raise IngestError(404, "ingest_disabled", "the ingest API is not enabled on this server: it is off unless "
                                                  "an ingest token is configured")
    scheme, _, given = flask_request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise IngestError(401, "unauthorized", "send the ingest token as `Authorization: Bearer <token>`",
                          headers={"WWW-Authenticate": REALM})
    if not hmac.compare_digest(given.strip().encode("latin-1", "replace"), settings.token):
        raise IngestError(401, "unauthorized", "the ingest token is wrong",
                          headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'})
    size = flask_request.content_length
    if size is not None and size > settings.max_bytes:
        raise _too_large(size)
    if flask_request.args:
        name = next(iter(flask_request.args))
        raise IngestError(400, "bad_request", f"unknown parameter {name!r}; this path takes none", name)


def _too_large(size: int | None) -> IngestError:
    limit = _settings().max_bytes
    said = f"of {size} bytes" if size is not None else "over the limit"
    return IngestError(413, "payload_too_large", f"request body {said}; at most {limit} bytes (send a larger batch "
                                                 "as several requests)", "body")


def _body(types: tuple[str, ...]) -> bytes:
    """The request body, read up to the limit (also when no Content-Length was sent), in one of `types`."""
    encoding = flask_request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise IngestError(415, "unsupported_media_type", f"Content-Encoding {encoding!r} is not accepted; send the "
                                                         "body uncompressed")
    if flask_request.mimetype not in types:
        raise IngestError(415, "unsupported_media_type", f"send the body as {' or '.join(types)}; got "
                                                         f"{flask_request.mimetype or 'none'!r}", "body")
    charset = flask_request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise IngestError(415, "unsupported_media_type", f"send the body in UTF-8; got charset {charset!r}", "body")
    limit = _settings().max_bytes
    raw = flask_request.stream.read(limit + 1)
    if len(raw) > limit:
        raise _too_large(flask_request.content_length)
    return raw.removeprefix(b"\xef\xbb\xbf")


# -- reading articles -----------------------------------------------------------------------------------------


class Refused(Exception):
    """One article refused: the message and the field at fault."""

    def __init__(self, message: str, param: str | None, article_id: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param, self.article_id = message, param, article_id


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for name, value in pairs:
        if name in seen:
            raise Refused(f"{name} is given twice; give it once", name)
        seen[name] = value
    return seen


def _shown(value: Any) -> str:
    """A value quoted in a message: short, and printable whatever it holds (repr escapes lone surrogates)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _object(raw: bytes) -> dict[str, Any]:
    """One JSON object from UTF-8 bytes; Refused otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(f"not UTF-8 (byte {exc.start})", "body") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_repeats)
    except (ValueError, RecursionError) as exc:
        raise Refused(f"not JSON: {str(exc)[:120]}", "body") from None
    if not isinstance(value, dict):
        raise Refused(f"an article must be a JSON object; got {type(value).__name__}", "body")
    return value


def _has_words(value: str | None, body: bool) -> bool:
    """Whether the committer keeps any text of the field (control characters and a wire's sign-off go)."""
    if not value:
        return False
    text = _CONTROLS.sub("", _NEWLINES.sub("\n", value))
    if body:
        text = _SIGN_OFF.sub("", "\n" + text.rstrip())
    return bool(text.strip())


def url_id(url: str) -> str:
    """The id `indexer add` gives an article that has a url and no id (indexer.sources.base.url_id)."""
    return "u-" + sha1(url.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _refusal(exc: ValidationError) -> Refused:
    """pydantic's first complaint, naming the field."""
    error = exc.errors(include_url=False)[0]
    param = str(error["loc"][0]) if error["loc"] else "body"
    if len(error["loc"]) > 1 and isinstance(error["loc"][1], int):  # an item of agencies
        param = f"{param}[{error['loc'][1]}]"
    if error["type"] == "string_unicode":
        reason = "is not valid Unicode (a lone surrogate, as from the escape \\ud800)"
    elif param == "id":  # one error per branch of the union: say what it takes
        reason = (f"must be a string of 1 to {schemas.MAX_ID_CHARS} characters without control characters or white "
                  f"space at either end, or an integer from 0 to {schemas.MAX_INT_ID}")
    elif error["type"] == "value_error":
        reason = str(error["ctx"]["error"])
    elif error["type"].endswith("_type"):
        reason = f"has the wrong type ({type(error.get('input')).__name__}); see the ArticleIn schema"
    else:  # a length or a bound: pydantic's words ("string should have at most 200 characters")
        return Refused(f"{param}: {error['msg'][:1].lower()}{error['msg'][1:]}", param)
    return Refused(f"{param} {reason}", param)


def read_article(fields: dict[str, Any], path_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """A received object -> (its id, the validated fields as the journal keeps them); Refused when unusable.

    With path_id (PUT), the path names the article: an id in the body must be the same."""
    try:
        article = schemas.ArticleIn.model_validate(fields, strict=True)
    except ValidationError as exc:
        refusal = _refusal(exc)
        given = fields.get("id", fields.get("_id"))
        if isinstance(given, str) and re.fullmatch(schemas.ID_PATTERN, given) and len(given) <= schemas.MAX_ID_CHARS:
            refusal.article_id = given
        raise refusal from None
    body_id = None if article.id is None else str(article.id)
    if path_id is not None:
        if body_id is not None and body_id != path_id:
            raise Refused(f"the body's id {_shown(body_id)} is not the path's {_shown(path_id)}; the path names the "
                          "article (leave id out of the body)", "id", path_id)
        article_id = path_id
    elif body_id is not None:
        article_id = body_id
    elif article.url:
        article_id = url_id(article.url)
    else:
        raise Refused("id is required (or a url, from which the id is derived)", "id")
    if not _has_words(article.title, False) and not _has_words(article.text, True):
        raise Refused("text is required, and not blank, unless title is given", "text", article_id)
    record: dict[str, Any] = {"id": article_id}
    for name in ("title", "text", "date", "url", "source", "agencies", "dateline"):
        value = getattr(article, name)
        if value is not None:
            record[name] = list(value) if name == "agencies" else value
    return article_id, record


def check_path_id(article_id: str) -> str:
    """An id named by the path follows the body's id rules."""
    if not 1 <= len(article_id) <= schemas.MAX_ID_CHARS or not re.fullmatch(schemas.ID_PATTERN, article_id):
        raise IngestError(400, "bad_request", f"article_id must be 1 to {schemas.MAX_ID_CHARS} characters without "
                                              "control characters or white space at either end", "article_id")
    return article_id


# -- journaling ---------------------------------------------------------------------------------------------


def journal(records: list[Record]) -> list[int]:
    """Append the records to the index's journal, fdatasynced, under the journal's lock; their seqs.

    Raises IngestError 503 when the lock stays taken past INGEST_LOCK_TIMEOUT (a committer holds it only while it
    reads or purges the journal, never while it embeds) or the journal cannot be written; nothing is
    acknowledged then."""
    settings = _settings()
    deadline = time.monotonic() + settings.lock_timeout
    if not settings.lock.acquire(timeout=settings.lock_timeout):
        raise _busy()
    try:
        with JournalLock(settings.index_dir, timeout=max(0.0, deadline - time.monotonic())):
            # the commit's journal position: the records up to it are committed (the base build alone is at 0,
            # whatever its article count, so that count is not read)
            committed = read_commit(current_build(settings.index_dir), 0).journal_seq
            with Journal(settings.index_dir, committed_seq=committed) as open_journal:
                return open_journal.append(records)
    except WriterBusy:
        raise _busy() from None
    except (NewsclipError, JournalError, OSError) as exc:
        log.exception("ingest: the journal of %s could not be written", settings.index_dir)
        raise IngestError(503, "journal_unavailable", "the write could not be journaled and is not acknowledged (it "
                                                      "may or may not take effect): send it again", None,
                          {"Retry-After": "5"}) from exc
    finally:
        settings.lock.release()


def _busy() -> IngestError:
    return IngestError(503, "writer_busy", f"another writer held the index for {_settings().lock_timeout:g} s (a "
                                           "commit or a rebuild); nothing was acknowledged, try again",
                       None, {"Retry-After": "1"})


def _took(began: float) -> float:
    return round((time.perf_counter() - began) * 1000, 3)


# -- endpoints ----------------------------------------------------------------------------------------------


@bp.post("/articles")
def post_articles() -> ResponseReturnValue:
    """One article as JSON, or a batch as NDJSON (one object a line); 202 with a result per article."""
    began = time.perf_counter()
    raw = _body(("application/json", NDJSON))
    items: list[dict[str, Any]] = []
    records: list[Record] = []
    if flask_request.mimetype == "application/json":
        try:
            article_id, record = read_article(_object(raw))
        except Refused as exc:  # the only article: the request fails
            raise IngestError(400, "bad_request", exc.message, exc.param) from None
        items.append({"line": 1, "id": article_id, "record": record})
    else:
        for number, line in enumerate(raw.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                article_id, record = read_article(_object(line.removesuffix(b"\r")))
            except Refused as exc:
                items.append({"line": number, "id": exc.article_id, "error": schemas.ErrorDetail(
                    code="bad_request", message=exc.message, param=exc.param)})
                continue
            items.append({"line": number, "id": article_id, "record": record})
        if not items:
            raise IngestError(400, "bad_request", "the body holds no article: send one JSON object a line", "body")
    for item in items:
        if "record" in item:
            records.append(Add({"id": item["id"], "raw": item["record"]}))
    seqs = iter(journal(records) if records else [])
    out = []
    for item in items:
        if "record" in item:
            out.append(schemas.BulkItem(line=item["line"], id=item["id"], status=202, seq=next(seqs), error=None))
        else:
            out.append(schemas.BulkItem(line=item["line"], id=item["id"], status=400, seq=None, error=item["error"]))
    return _answer(schemas.BulkResult(took_ms=_took(began), errors=any(i.status != 202 for i in out), items=out))


@bp.put("/articles/<path:article_id>")
def put_article(article_id: str) -> ResponseReturnValue:
    """Add or replace the article the path names (the body's id, if any, must be the same)."""
    began = time.perf_counter()
    check_path_id(article_id)
    try:
        article_id, record = read_article(_object(_body(("application/json",))), path_id=article_id)
    except Refused as exc:
        raise IngestError(400, "bad_request", exc.message, exc.param) from None
    seq = journal([Add({"id": article_id, "raw": record})])[0]
    return _answer(schemas.WriteAccepted(id=article_id, seq=seq, took_ms=_took(began)))


@bp.delete("/articles/<path:article_id>")
def delete_article(article_id: str) -> ResponseReturnValue:
    """Take the article down: gone from every answer, its text purged, once committed. An id that is not live
    is no error (the delete is journaled and does nothing), as the write may race an add still in the journal."""
    began = time.perf_counter()
    check_path_id(article_id)
    seq = journal([Delete(article_id)])[0]
    return _answer(schemas.WriteAccepted(id=article_id, seq=seq, took_ms=_took(began)))
