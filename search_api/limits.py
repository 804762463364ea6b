"""Per-request limits of the search API: the query time budget and the optional rate limit.

Both guard only the search and docker endpoints: a registry's notifications,
health checks and metrics scrapes are never refused for a busy searcher.
A query past a limit of :mod:`indexer.limits` is a 400 naming the limit; a
client past the rate limit a 429 with ``Retry-After``.
"""

from __future__ import annotations

from flask import Flask, Response, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from indexer.limits import QueryLimitError, end_budget, start_budget
from search_api.access import GUARDED_BLUEPRINTS
from search_api.errors import error_response


def install_query_budget(app: Flask, seconds: float | None) -> None:
    """Give every search and docker request of ``app`` ``seconds`` of index time (None: no limit)."""

    def start() -> None:
        if request.blueprint in GUARDED_BLUEPRINTS:
            g.query_budget = start_budget(seconds)

    def end(_: BaseException | None) -> None:
        token = g.pop("query_budget", None)
        if token is not None:
            end_budget(token)

    app.before_request(start)
    app.teardown_request(end)
    app.register_error_handler(QueryLimitError, _limit_error)


def _limit_error(error: QueryLimitError) -> Response:
    return error_response(400, error.message, "q")


def install_rate_limit(app: Flask, limit: str) -> Limiter:
    """Allow each client address ``limit`` (flask-limiter notation) of search and docker requests;
    past it, a 429 JSON error with ``Retry-After``. Counts are kept in this process's memory: with
    several replicas, each counts its own."""
    return Limiter(
        key_func=get_remote_address,
        app=app,
        default_limits=[limit],
        default_limits_exempt_when=lambda: request.blueprint not in GUARDED_BLUEPRINTS,
        headers_enabled=True,
        storage_uri="memory://",
        strategy="moving-window",
    )
