"""The OpenAPI 3 description of every endpoint, generated from marshmallow schemas (apispec).

Query parameters come from the same schemas that parse them
(``search_api/query.py``), so the description cannot drift from what is
accepted; responses are described by the schemas below. Served at
``GET /api/v1/openapi.json``; the tests call every operation with
generated requests (schemathesis) and check each answer against it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields, validate

from regsearch import __version__
from search_api.query import DOCKER_SEARCH_SCHEMA, REPOSITORY_SCHEMA, SEARCH_SCHEMA, SUGGEST_SCHEMA



def _text(description: str | None = None) -> fields.String:
    """A text field that may be null."""
    return fields.String(required=True, allow_none=True, metadata={"description": description} if description else {})


class Platform(Schema):
    os = fields.String(required=True)
    architecture = fields.String(required=True)
    variant = fields.String(required=True, metadata={"description": "empty when the image names none"})


class _Common(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["repository", "tag"]))
    registry = fields.String(required=True)
    platforms = fields.List(fields.Nested(Platform), required=True)
    title = _text()
    description = _text()
    labels = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    pushed = _text("ISO 8601, UTC")
    size = fields.Integer(required=True)


class RepositoryDocument(_Common):
    name = fields.String(required=True)
    tags = fields.List(fields.String(), required=True)
    pulls = fields.Integer(required=True, metadata={"description": "pull notifications counted, all time"})
    pulls_7d = fields.Integer(required=True, metadata={"description": "pulls on the 7 UTC days up to the last update"})
    pulls_30d = fields.Integer(required=True, metadata={"description": "pulls on the 30 UTC days up to the last update"})
    tag_pulls = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class TagDocument(_Common):
    repository = fields.String(required=True)
    tag = fields.String(required=True)
    digest = fields.String(required=True)
    media_type = fields.String(required=True)
    created = _text()
    annotations = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    layers = fields.List(fields.String(), required=True)
    configs = fields.List(fields.String(), required=True)
    children = fields.List(fields.String(), required=True)
    platform_layers = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True)
    signed = fields.Boolean(required=True)


_HIGHLIGHTS = fields.Dict(
    keys=fields.String(validate=validate.OneOf(["title", "description"])), values=fields.List(fields.String()),
    required=True, metadata={"description": "fragments holding the query's words: HTML, the words in <em>"},
)


class RepositoryHit(RepositoryDocument):
    highlights = _HIGHLIGHTS


class TagHit(TagDocument):
    highlights = _HIGHLIGHTS


class SearchAnswer(Schema):
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)
    results = fields.List(fields.Raw(), required=True)  # oneOf RepositoryHit, TagHit: set in the spec below
    suggestion = fields.String(required=True, allow_none=True, metadata={"description": "did you mean"})
    facets = fields.Dict(keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Integer()))


class Suggestion(Schema):
    text = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["repository", "tag"]))
    pulls = fields.Integer(required=True)


class SuggestAnswer(Schema):
    prefix = fields.String(required=True)
    suggestions = fields.List(fields.Nested(Suggestion), required=True)


class RepositoryAnswer(RepositoryDocument):
    tags = fields.List(fields.Nested(TagDocument), required=True)


class _TagReference(Schema):
    registry = fields.String(required=True)
    repository = fields.String(required=True)
    tag = fields.String(required=True)
    digest = fields.String(required=True)


class DigestHit(_TagReference):
    roles = fields.List(fields.String(validate=validate.OneOf(["manifest", "child", "config", "layer"])), required=True)


class DigestAnswer(Schema):
    digest = fields.String(required=True)
    results = fields.List(fields.Nested(DigestHit), required=True)


class Relative(_TagReference):
    platform = fields.String(required=True)
    layers = fields.Integer(required=True)


class LineageAnswer(Schema):
    image = fields.String(required=True)
    direction = fields.String(required=True, validate=validate.OneOf(["base", "derived"]))
    results = fields.List(fields.Nested(Relative), required=True)


class DockerResult(Schema):
    name = fields.String(required=True)
    description = fields.String(required=True)
    star_count = fields.Integer(required=True)
    is_official = fields.Boolean(required=True)
    is_automated = fields.Boolean(required=True)


class DockerSearchAnswer(Schema):
    query = fields.String(required=True)
    num_results = fields.Integer(required=True)
    num_pages = fields.Integer(required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    results = fields.List(fields.Nested(DockerResult), required=True)


class ErrorBody(Schema):
    status = fields.Integer(required=True)
    message = fields.String(required=True)
    field = fields.String()


class Error(Schema):
    error = fields.Nested(ErrorBody, required=True)


class Status(Schema):
    status = fields.String(required=True)


class WebhookAnswer(Schema):
    accepted = fields.Integer(required=True)
    duplicates = fields.Integer(required=True)
    dropped = fields.Integer(required=True)
    dead_lettered = fields.Integer(required=True)
    errors = fields.List(fields.Dict(), required=True)


class WebhookError(Schema):
    error = fields.String(required=True)


def _json(schema: type[Schema] | dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_BAD = _json(Error, "a parameter is invalid, or the query went past one of its limits (length, terms, "
                    "wildcard expansions, time budget); the message says which and why")
_MISSING = _json(Error, "not in the index, or not visible to the caller (the same answer)")
_DENIED = _json(Error, "credentials were sent and are wrong (--auth htpasswd or token), or a Bearer token "
                       "the registry would refuse (--auth token): WWW-Authenticate: Basic")
_UNDECIDED = _json(Error, "--auth token: the registry's token service cannot be asked, so what the caller "
                          "may see is unknown; try again after Retry-After seconds")
_LIMITED = {**_json(Error, "past --rate-limit for this client address"),
            "headers": {"Retry-After": {"description": "seconds until a request is allowed again",
                                        "schema": {"type": "integer"}}}}
_PATH = {"in": "path", "required": True, "schema": {"type": "string"}}


def _operations() -> dict[str, dict[str, Any]]:
    """Path -> the operations on it, in OpenAPI form (schemas as classes, resolved by apispec)."""
    return {
        "/v1/_ping": {"get": {"summary": "docker's ping", "responses": {"200": _json({"type": "boolean"}, "true")}}},
        "/v1/search": {"get": {
            "summary": "docker search: plain words, docker's answer shape",
            "parameters": [{"in": "query", "schema": DOCKER_SEARCH_SCHEMA}],
            "responses": {"200": _json(DockerSearchAnswer, "one page of repositories"), "400": _BAD},
        }},
        "/api/v1/search": {"get": {
            "summary": "search repositories or tags; q in the query language (README)",
            "parameters": [{"in": "query", "schema": SEARCH_SCHEMA}],
            "responses": {"200": _json(SearchAnswer, "one page of results, every match counted"), "400": _BAD},
        }},
        "/api/v1/suggest": {"get": {
            "summary": "completions as you type",
            "parameters": [{"in": "query", "schema": SUGGEST_SCHEMA}],
            "responses": {"200": _json(SuggestAnswer, "repository names or repository:tag"), "400": _BAD},
        }},
        "/api/v1/repositories/{name}": {"get": {
            "summary": "a repository and its tags, newest push first",
            "parameters": [{"name": "name", **_PATH}, {"in": "query", "schema": REPOSITORY_SCHEMA}],
            "responses": {"200": _json(RepositoryAnswer, "the repository"), "400": _BAD, "404": _MISSING},
        }},
        "/api/v1/digests/{digest}": {"get": {
            "summary": "every tag holding a digest (or a 12+ hex prefix) as manifest, child, config or layer",
            "parameters": [{"name": "digest", **_PATH}],
            "responses": {"200": _json(DigestAnswer, "the tags, by repository and tag"), "400": _BAD,
                          "404": _json(Error, "no such route: a digest holding a line break")},
        }},
        "/api/v1/images/{image}/{direction}": {"get": {
            "summary": "the images an image is built on (base), or built on it (derived)",
            "parameters": [
                {"name": "image", **_PATH, "description": "repository:tag"},
                {"name": "direction", "in": "path", "required": True, "schema": {"type": "string", "enum": ["base", "derived"]}},
                {"in": "query", "schema": REPOSITORY_SCHEMA},
            ],
            "responses": {"200": _json(LineageAnswer, "nearest first"), "400": _BAD, "404": _MISSING},
        }},
        "/api/v1/openapi.json": {"get": {
            "summary": "this description", "responses": {"200": _json({"type": "object"}, "OpenAPI 3.0")},
        }},
        "/healthz": {"get": {"summary": "liveness", "responses": {"200": _json(Status, "the process answers")}}},
        "/readyz": {"get": {"summary": "readiness", "responses": {
            "200": _json(Status, "serving current results"), "503": _json(Status, "catching up with the event log"),
        }}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
            "200": {"description": "text exposition format", "content": {"text/plain": {"schema": {"type": "string"}}}},
        }}},
        "/notifications": {"post": _webhook("the first registry's notification webhook")},
        "/notifications/{name}": {"post": {
            **_webhook("the notification webhook of the registry configured as {name}", named=True),
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
        }},
    }


def _webhook(summary: str, named: bool = False) -> dict[str, Any]:
    unknown = {"404": _json(WebhookError, "no registry has that name")} if named else {}
    return {
        "summary": summary,
        "security": [{"webhook": []}],
        "requestBody": {"required": True, "content": {"application/vnd.docker.distribution.events.v2+json": {
            "schema": {"type": "object", "properties": {"events": {"type": "array", "items": {"type": "object"}}}},
        }}},
        "responses": {
            "202": _json(WebhookAnswer, "stored; what could not be used is dead-lettered"),
            "401": _json(WebhookError, "no valid bearer token"),
            **unknown,
            "413": _json(WebhookError, "body over --max-body-bytes"),
            "503": _json(WebhookError, "event log unavailable: the registry retries"),
        },
    }


@cache
def openapi_spec() -> dict[str, Any]:
    """The whole description, as a JSON-ready dict (built once)."""
    spec = APISpec(title="Registry Search", version=__version__, openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()])
    spec.components.security_scheme("webhook", {"type": "http", "scheme": "bearer"})
    for schema in (RepositoryHit, TagHit):
        spec.components.schema(schema.__name__, schema=schema)
    spec.components.security_scheme("basic", {"type": "http", "scheme": "basic"})
    spec.components.security_scheme("registry_token", {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "a token of the registry's token service (--auth token with --token-cert)",
    })
    for path, operations in _operations().items():
        if path.startswith(("/v1/", "/api/v1/")):  # what --auth guards
            for operation in operations.values():
                operation["responses"]["401"] = _DENIED
                operation["responses"]["429"] = _LIMITED
                operation["responses"]["503"] = _UNDECIDED
                operation["security"] = [{}, {"basic": []}, {"registry_token": []}]
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    results = document["components"]["schemas"]["SearchAnswer"]["properties"]["results"]
    results["items"] = {"oneOf": [{"$ref": "#/components/schemas/RepositoryHit"},
                                  {"$ref": "#/components/schemas/TagHit"}]}
    return document
