"""The search API's Flask app factory, and how to add it to another app."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, jsonify

from indexer.index import SearchIndex
from indexer.limits import DEFAULT_QUERY_BUDGET_S
from search_api import api, docker
from search_api.errors import register_error_handlers
from search_api.headers import install_security_headers
from search_api.limits import install_query_budget


def create_app(
    index_getter: Callable[[], SearchIndex], config: Mapping[str, Any] | None = None,
    registry_hosts: Mapping[str, str] | None = None, query_budget_s: float | None = DEFAULT_QUERY_BUDGET_S,
) -> Flask:
    """The search API app; views reach the index only through ``index_getter``.

    ``config`` is merged into ``app.config`` (tests pass ``{"TESTING": True}``).
    """
    app = Flask(__name__)
    app.config.from_mapping(config or {})
    register_error_handlers(app)
    install_security_headers(app)
    init_app(app, index_getter, registry_hosts, query_budget_s)
    app.add_url_rule("/healthz", view_func=healthz)
    return app


def init_app(
    app: Flask, index_getter: Callable[[], SearchIndex], registry_hosts: Mapping[str, str] | None = None,
    query_budget_s: float | None = DEFAULT_QUERY_BUDGET_S,
) -> None:
    """Serve the docker-compatible and JSON search endpoints from ``app``.

    ``registry_hosts`` maps each ``Host`` (lower case ``host[:port]``) under
    which clients reach a registry to that registry's name in documents;
    each request may spend ``query_budget_s`` in the index (see :mod:`indexer.limits`).
    """
    api.install_index_getter(app, index_getter)
    install_query_budget(app, query_budget_s)
    app.config[docker.HOSTS_CONFIG] = dict(registry_hosts or {})
    app.register_blueprint(docker.blueprint)
    app.register_blueprint(api.blueprint)


def healthz() -> Response:
    """Liveness: the process answers HTTP."""
    return jsonify({"status": "ok"})
