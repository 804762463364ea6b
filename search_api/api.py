"""The JSON API under ``/api/v1/``, and how views reach the search index.

``GET /api/v1/search`` answers ``{"total", "limit", "offset", "results", "suggestion"}`` (and
``"facets"`` when asked); each result carries ``"highlights"``: its title and description
fragments holding the query's words, HTML-escaped, the words in ``<em>``
with the documents as :func:`indexer.documents.document_to_dict` writes them.
``GET /api/v1/repositories/<name>`` answers the repository document with
``"tags"`` replaced by the full tag documents, newest push first.
``GET /api/v1/suggest`` answers ``{"prefix", "suggestions": [{"text", "kind", "pulls"}]}``.
``GET /api/v1/digests/<digest>`` answers ``{"digest", "results": [{"registry", "repository",
"tag", "digest", "roles"}]}``; ``GET /api/v1/images/<repository>:<tag>/base`` (and
``/derived``) ``{"image", "direction", "results": [{..., "platform", "layers"}]}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from indexer.documents import TagDocument, document_to_dict
from indexer.index import SearchIndex
from indexer.query_language import Digest, QuerySyntaxError, field_term
from search_api.access import current_visibility
from search_api.errors import ApiError
from search_api.openapi import openapi_spec
from search_api.query import parse_repository_registry, parse_search, parse_suggest

_INDEX_GETTER = "regsearch.index_getter"
# A search finding fewer results than this offers a corrected query ("did you mean").
SUGGEST_BELOW = 3

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
    asked = parse_search(request.args)
    wanted, index = replace(asked.request, visible=current_visibility()), current_index()
    page = index.search(wanted)
    facets = index.facets(wanted) if asked.facets else None
    suggestion = (index.did_you_mean(wanted.q, wanted.visible)
                  if page.total < SUGGEST_BELOW and wanted.q.strip() else None)
    body = {
        "total": page.total,
        "limit": wanted.limit,
        "offset": wanted.offset,
        "results": [{**document_to_dict(doc), "highlights": marked}
                    for doc, marked in zip(page.documents, index.highlights(wanted, page.documents))],
        "suggestion": suggestion,
    }
    if facets is not None:
        body["facets"] = facets
    return jsonify(body)


@blueprint.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3 description of every endpoint (search_api/openapi.py)."""
    return jsonify(openapi_spec())


@blueprint.get("/suggest")
def suggest() -> Response:
    """Completions of what was typed: repository names, or ``repository:tag``, most pulled first."""
    wanted = parse_suggest(request.args)
    found = current_index().suggest(wanted.prefix, wanted.limit, current_visibility())
    return jsonify({"prefix": wanted.prefix,
                    "suggestions": [{"text": s.text, "kind": s.kind, "pulls": s.pulls} for s in found]})


@blueprint.get("/digests/<path:digest>")
def digest(digest: str) -> Response:
    """Every tag whose manifest, index children, configs or layers hold ``digest`` (or a 12+ hex prefix)."""
    try:
        wanted = field_term("digest", digest)
    except QuerySyntaxError as error:
        raise ApiError(400, f"digest '{digest}': {error.message}", "digest") from error
    assert isinstance(wanted, Digest)
    results = [
        {"registry": t.registry, "repository": t.repository, "tag": t.tag, "digest": t.digest, "roles": digest_roles(t, wanted)}
        for t in current_index().tags_with_digest(wanted, current_visibility())
    ]
    return jsonify({"digest": digest, "results": results})


@blueprint.get("/images/<path:image>/<any(base, derived):direction>")
def lineage(image: str, direction: str) -> Response:
    """The images ``image`` (``repository:tag``) is built on, or that are built on it."""
    repository, colon, tag = image.rpartition(":")
    if not colon or not repository or "/" in tag:
        raise ApiError(400, f"image '{image}' is not repository:tag", "image")
    visibility = current_visibility()
    found = current_index().tag(repository, tag, parse_repository_registry(request.args), visibility)
    if found is None:
        raise ApiError(404, f"image '{image}' is not in the index")
    relatives = current_index().relatives(found, "base" if direction == "base" else "derived", visibility)
    results = [
        {"registry": r.image.registry, "repository": r.image.repository, "tag": r.image.tag,
         "digest": r.image.digest, "platform": r.platform, "layers": r.layers}
        for r in relatives
    ]
    return jsonify({"image": image, "direction": direction, "results": results})


def digest_roles(tag: TagDocument, wanted: Digest) -> list[str]:
    """What ``wanted`` is in ``tag``: its manifest, an index child, a config, a layer."""
    def holds(digests: tuple[str, ...]) -> bool:
        return any(_same_digest(d, wanted) for d in digests)

    parts = (("manifest", (tag.digest,)), ("child", tag.children), ("config", tag.configs), ("layer", tag.layers))
    return [role for role, digests in parts if holds(digests)]


def _same_digest(digest: str, wanted: Digest) -> bool:
    algorithm, _, hex_part = digest.partition(":")
    if wanted.algorithm is not None:
        return (algorithm, hex_part) == (wanted.algorithm, wanted.hex)
    return hex_part.startswith(wanted.hex)


@blueprint.get("/repositories/<path:name>")
def repository(name: str) -> Response:
    """One repository with its tag documents; 404 when it is not indexed."""
    found = current_index().repository(name, parse_repository_registry(request.args), current_visibility())
    if found is None:
        raise ApiError(404, f"repository '{name}' is not in the index")
    repo, tags = found
    return jsonify({**document_to_dict(repo), "tags": [document_to_dict(tag) for tag in tags]})
