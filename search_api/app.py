"""The search API's Flask app factory."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, jsonify

from indexer.index import SearchIndex
from search_api import api, docker
from search_api.errors import register_error_handlers


def create_app(
    index_getter: Callable[[], SearchIndex], config: Mapping[str, Any] | None = None
) -> Flask:
    """The search API app; views reach the index only through ``index_getter``.

    ``config`` is merged into ``app.config`` (tests pass ``{"TESTING": True}``).
    """
    app = Flask(__name__)
    app.config.from_mapping(config or {})
    api.install_index_getter(app, index_getter)
    register_error_handlers(app)
    app.register_blueprint(docker.blueprint)
    app.register_blueprint(api.blueprint)
    app.add_url_rule("/healthz", view_func=healthz)
    return app


def healthz() -> Response:
    """Liveness: the process answers HTTP."""
    return jsonify({"status": "ok"})
