"""Flask application factory: one SearchEngine per process, JSON API and HTML pages from the same data."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_compress import Compress
from flask_cors import CORS
from werkzeug.exceptions import HTTPException, InternalServerError

from search.errors import SearchTimeout, ShardUnavailable

DEFAULTS: dict[str, Any] = {
    "INDEX": "var/index",
    "MODEL": None,  # None: the model the index was built with
    "FAISS_THREADS": 1,  # per query; waitress threads give the parallelism
    "EMBED_THREADS": 1,  # per question embedding (ONNX Runtime, or torch for a torch-built index)
    "RELOAD_INTERVAL": 0.25,  # seconds between checks for a new build or commit (a read of two small files); 0: off
    "RELOAD_VERIFY": True,  # check every file's sha256 before serving a new build (refused if one fails)
    "REQUEST_TIMEOUT": 10.0,  # seconds a search may run before it is cut with a 503
    "MAX_BODY_BYTES": 16 * 1024,  # only POST /api/search reads a body (JSON); a bigger one is refused with a 400
    "CORS_ORIGINS": (),  # origins whose pages may call /api/* from the browser ("*": any); none: CORS is off
    # the ingest API (web/ingest.py): off unless a token is given, or a file whose first line is the token
    "INGEST_TOKEN": None,
    "INGEST_TOKEN_FILE": None,
    "INGEST_MAX_BYTES": 10 * 1024 * 1024,  # a POST, PUT or DELETE of /api/articles; over it: 413
    "INGEST_LOCK_TIMEOUT": 10.0,  # seconds a write waits for the index's writer lock (a commit holds it); then 503
}
RAW_ENV = ("INGEST_TOKEN", "INGEST_TOKEN_FILE")  # taken as written: from_prefixed_env would read "0123" as a number

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _faiss_threads(count: int) -> None:
    """Thread counts are set at the edge: the library never decides how many cores a process may use.

    Called after the model is loaded: torch (for a torch-built index) shares faiss's OpenMP runtime and resets it.
    """
    import faiss

    faiss.omp_set_num_threads(int(count))


def cors_origins(value: str | Iterable[str] | None) -> list[str]:
    """NEWSCLIP_CORS_ORIGINS as a list: a JSON list, or one string of origins split by commas or spaces."""
    if not value:
        return []
    if isinstance(value, str):
        return [origin for origin in re.split(r"[,\s]+", value) if origin]
    return [str(origin) for origin in value]


def is_api(path: str) -> bool:
    """Errors under /api (and /healthz) answer in JSON, everywhere else in HTML."""
    return path == "/api" or path.startswith("/api/") or path == "/healthz"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then NEWSCLIP_* environment, then arguments; opens the index once."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is packaged; never reach for the hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("NEWSCLIP")
    for key in RAW_ENV:
        if f"NEWSCLIP_{key}" in os.environ:
            app.config[key] = os.environ[f"NEWSCLIP_{key}"]
    if test_config is not None:
        app.config.from_mapping(test_config)
    from . import ingest

    ingest_settings = ingest.read_settings(app.config)  # a bad token setting fails before the index is opened
    app.json.sort_keys = False  # type: ignore[attr-defined]
    from search.engine import SearchEngine
    from search.live import LiveIndex

    model = app.config.get("MODEL") or None
    given = app.config.get("EMBEDDER")  # tests hand in the model they already loaded
    threads = int(app.config["EMBED_THREADS"])
    shards = app.config.get("SHARDS")  # `python -m web --ray`: the shards' handles (web/cluster.py)
    snapshots = None
    if shards is not None:
        from search.sharded import ShardedSnapshotOpener

        snapshots = ShardedSnapshotOpener(shards)

    def opener(build: Path, manifest: dict[str, Any], previous: SearchEngine | None) -> SearchEngine:
        """A build with its own model; the model already loaded is kept when the new build has the same one."""
        embedder = given
        fingerprint = manifest.get("model", {}).get("fingerprint")
        if embedder is None and previous is not None and previous.embedder.fingerprint == fingerprint:
            embedder = previous.embedder
        same = previous is not None and previous.build_dir == build  # a new commit: its unchanged segments reused
        return SearchEngine.open_build(build, model=model, embedder=embedder, embed_threads=threads,
                                       manifest=manifest, segments=previous.segments if same else None,
                                       snapshots=snapshots)

    live = LiveIndex(Path(app.config["INDEX"]), opener, verify=bool(app.config["RELOAD_VERIFY"]))
    app.extensions["newsclip"] = live
    _faiss_threads(app.config["FAISS_THREADS"])
    live.watch(float(app.config["RELOAD_INTERVAL"]))

    from . import api, pages

    app.register_blueprint(api.bp)
    ingest.init_app(app, ingest_settings)
    app.register_blueprint(pages.bp)
    Compress(app)  # gzip (or br, zstd) for clients that accept it (COMPRESS_* settings: flask-compress's)
    origins = cors_origins(app.config.get("CORS_ORIGINS"))
    if origins:  # off unless configured: the API answers other sites' scripts only when told which
        CORS(app, resources={r"/api/*": {"origins": origins}}, methods=["GET", "POST"],
             allow_headers=["Content-Type"], expose_headers=["Retry-After"], max_age=600)

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        """For load balancers and the browser test: up, and which build it serves."""
        return jsonify({"status": "ok", "build_id": str(api.engine().summary().get("build_id"))})

    @app.before_request
    def refuse_bodies() -> ResponseReturnValue | None:
        """Only POST /api/search reads a body (its JSON fields); any body over the limit is refused before anything
        else, on every path (POST /api/search also stops reading at the limit when no Content-Length was sent).
        The ingest API has its own limit (INGEST_MAX_BYTES, a 413), checked once the token is."""
        if request.blueprint == "ingest":
            return None
        size = request.content_length
        if size is not None and size > int(app.config["MAX_BODY_BYTES"]):
            message = f"request body of {size} bytes; at most {app.config['MAX_BODY_BYTES']}"
            if is_api(request.path):
                return jsonify(api.error_body("bad_request", message, "body")), 400
            return render_template("error.html", status=400, title="Bad request", message=message), 400
        return None

    @app.teardown_request
    def release_engine(_exc: BaseException | None) -> None:
        api.release_engine()

    @app.after_request
    def security_headers(response: Any) -> Any:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        if is_api(request.path):
            body, status = api.http_error(status, exc.name, exc.description)
            response = jsonify(body)
            response.status_code = status
            if status == 405 and exc.get_response().headers.get("Allow"):
                response.headers["Allow"] = exc.get_response().headers["Allow"]
            return response
        return render_template("error.html", status=status, title=exc.name, message=exc.description), status

    def unavailable(code: str, title: str, message: str) -> ResponseReturnValue:
        """A 503 in the API's error shape or as a page, with Retry-After."""
        if is_api(request.path):
            response = jsonify(api.error_body(code, message, None))
        else:
            response = app.make_response((render_template("error.html", status=503, title=title,
                                                           message=message), 503))
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(SearchTimeout)
    def timed_out(exc: SearchTimeout) -> ResponseReturnValue:
        app.logger.warning("search cut after %s s on %s", app.config["REQUEST_TIMEOUT"], request.full_path)
        return unavailable("timeout", "The search took too long", str(exc))

    @app.errorhandler(ShardUnavailable)
    def shard_down(exc: ShardUnavailable) -> ResponseReturnValue:
        app.logger.warning("%s on %s", exc, request.full_path)
        return unavailable("shard_unavailable", f"Shard {exc.shard} is unavailable", str(exc))

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> ResponseReturnValue:
        if isinstance(exc, HTTPException):
            return http_error(exc)
        app.logger.exception("unhandled error on %s", request.path)
        if is_api(request.path):
            return jsonify(api.error_body("internal_error", "internal server error", None)), 500
        return render_template("error.html", status=500, title="Something went wrong",
                               message=InternalServerError.description), 500

    return app
