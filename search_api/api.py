"""The JSON API under ``/api/v1/``, and how views reach the search index.

``GET /api/v1/search`` answers ``{"total", "limit", "offset", "results"}``
with the documents as :func:`indexer.documents.document_to_dict` writes them.
``GET /api/v1/repositories/<name>`` answers the repository document with
``"tags"`` replaced by the full tag documents, newest push first.
``GET /api/v1/suggest`` answers ``{"prefix", "suggestions": [{"text", "kind", "pulls"}]}``.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from indexer.documents import document_to_dict
from indexer.index import SearchIndex
from indexer.translate import UnsupportedQuery
from search_api.errors import ApiError
from search_api.query import parse_repository_registry, parse_search, parse_suggest

_INDEX_GETTER = "regsearch.index_getter"

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")


def install_index_getter(app: Flask, index_getter: Callable[[], SearchIndex]) -> None:
    """Make ``index_getter`` the way views of ``app`` reach the index."""
    app.extensions[_INDEX_GETTER] = index_getter


def current_index() -> SearchIndex:
    """The search index of the current app, from the getter it was created with."""
    getter: Callable[[], SearchIndex] = current_app.extensions[_INDEX_GETTER]
    return getter()


@blueprint.get("/search")
def search() -> Response:
    """Documents of one kind matching ``q`` and the filters, one page."""
    wanted = parse_search(request.args)
    try:
        page = current_index().search(wanted)
    except UnsupportedQuery as error:
        raise ApiError(400, f"query parameter 'q': {error}", "q") from error
    return jsonify(
        {
            "total": page.total,
            "limit": wanted.limit,
            "offset": wanted.offset,
            "results": [document_to_dict(doc) for doc in page.documents],
        }
    )


@blueprint.get("/suggest")
def suggest() -> Response:
    """Completions of what was typed: repository names, or ``repository:tag``, most pulled first."""
    wanted = parse_suggest(request.args)
    found = current_index().suggest(wanted.prefix, wanted.limit)
    return jsonify({"prefix": wanted.prefix,
                    "suggestions": [{"text": s.text, "kind": s.kind, "pulls": s.pulls} for s in found]})


@blueprint.get("/repositories/<path:name>")
def repository(name: str) -> Response:
    """One repository with its tag documents; 404 when it is not indexed."""
    found = current_index().repository(name, parse_repository_registry(request.args))
    if found is None:
        raise ApiError(404, f"repository '{name}' is not in the index")
    repo, tags = found
    return jsonify({**document_to_dict(repo), "tags": [document_to_dict(tag) for tag in tags]})
