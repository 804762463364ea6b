"""The docker-compatible ``/v1/_ping`` and ``/v1/search``.

The docker engine pings ``/v1/_ping`` and reads ``X-Docker-Registry-Version``
and ``X-Docker-Registry-Standalone`` (standalone means "send Basic
credentials to this host", what a private registry wants), then calls
``/v1/search?q=&n=`` and shows ``results``. It filters by stars and
officiality itself, so we answer the best ``n`` repositories.
"""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from indexer.documents import RepositoryDocument
from indexer.index import SearchPage, SearchRequest
from indexer.query_language import field_term
from search_api.access import current_visibility
from search_api.api import current_index
from search_api.query import DockerSearch, parse_docker_search

REGISTRY_VERSION = "0.6.0"

blueprint = Blueprint("docker", __name__, url_prefix="/v1")


@blueprint.after_request
def _registry_headers(response: Response) -> Response:
    response.headers["X-Docker-Registry-Version"] = REGISTRY_VERSION
    response.headers["X-Docker-Registry-Standalone"] = "true"
    return response


@blueprint.get("/_ping")
def ping() -> Response:
    """Always 200 with body ``true``; the headers carry the answer."""
    return jsonify(True)


HOSTS_CONFIG = "REGSEARCH_REGISTRY_HOSTS"


@blueprint.get("/search")
def search() -> Response:
    """Repositories matching ``q`` in docker's search response shape.

    ``docker search host:port/term`` asks the registry's own host, so a
    ``Host`` naming one registry (``REGSEARCH_REGISTRY_HOSTS`` maps hosts to
    the registry documents name) searches that registry alone.
    """
    wanted = parse_docker_search(request.args)
    registry = current_app.config.get(HOSTS_CONFIG, {}).get(request.host.lower())
    conditions = (field_term("registry", registry),) if registry else ()
    page = current_index().search(SearchRequest(
        q=wanted.q, conditions=conditions, limit=wanted.n, offset=wanted.offset, visible=current_visibility()))
    return jsonify(docker_search_body(wanted, page))


def docker_search_body(wanted: DockerSearch, page: SearchPage) -> dict[str, Any]:
    """The body docker expects from ``/v1/search`` for ``page``."""
    return {
        "query": wanted.q,
        "num_results": page.total,
        "num_pages": math.ceil(page.total / wanted.n),
        "page": wanted.page,
        "page_size": wanted.n,
        "results": [_result(doc) for doc in page.documents if isinstance(doc, RepositoryDocument)],
    }


def _result(doc: RepositoryDocument) -> dict[str, Any]:
    return {
        "name": doc.name,
        "description": doc.description or doc.title or "",
        "star_count": 0,
        "is_official": False,
        "is_automated": False,
    }
