"""Flask application factory: one SearchEngine per process, JSON API and HTML pages from the same data."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, InternalServerError

DEFAULTS: dict[str, Any] = {
    "INDEX": "var/index",
    "MODEL": None,  # None: the model the index was built with
    "FAISS_THREADS": 1,  # per query; waitress threads give the parallelism
    "EMBED_THREADS": 1,  # per question embedding (ONNX Runtime, or torch for a torch-built index)
}

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
    if test_config is not None:
        app.config.from_mapping(test_config)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    from search.engine import SearchEngine

    model = app.config.get("MODEL") or None
    embedder = app.config.get("EMBEDDER")  # tests hand in the model they already loaded
    app.extensions["newsclip"] = SearchEngine.open(
        Path(app.config["INDEX"]), model=model, embedder=embedder, embed_threads=int(app.config["EMBED_THREADS"])
    )
    _faiss_threads(app.config["FAISS_THREADS"])

    from . import api, pages

    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        """For load balancers and the browser test: up, and which build it serves."""
        return jsonify({"status": "ok", "build_id": str(app.extensions["newsclip"].summary().get("build_id"))})

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
