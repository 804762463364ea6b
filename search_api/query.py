"""Query-string parsing and validation for the search API (marshmallow).

Each endpoint has a schema; a bad value, a parameter given twice or (on the
JSON API) an unknown parameter raises :class:`ApiError` 400 naming the
parameter and what is wrong with it. ``/v1/search`` ignores unknown
parameters, because the docker engine is a client we do not control.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate
from werkzeug.datastructures import MultiDict

from indexer.index import SearchRequest
from indexer.query_language import QuerySyntaxError
from indexer.query_language import parse as parse_query
from search_api.errors import ApiError

MAX_QUERY_LENGTH = 256
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 25
_PAGE_SIZE = validate.Range(min=1, max=MAX_PAGE_SIZE)


@dataclass(frozen=True)
class DockerSearch:
    """``GET /v1/search``: text, page size ``n`` and 1-based ``page``."""

    q: str = ""
    n: int = DEFAULT_PAGE_SIZE
    page: int = 1

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.n


class _DockerSearchSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    q = fields.String(load_default="", validate=validate.Length(max=MAX_QUERY_LENGTH))
    n = fields.Integer(load_default=DEFAULT_PAGE_SIZE, validate=_PAGE_SIZE)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> DockerSearch:
        return DockerSearch(**data)


def _query_language(q: str) -> None:
    """A ValidationError saying where ``q`` stops being a query, if it does."""
    try:
        parse_query(q)
    except QuerySyntaxError as error:
        raise ValidationError(str(error)) from error


class _SearchSchema(Schema):
    # q in the query language (indexer/query_language.py); its errors name the position
    q = fields.String(load_default="", validate=[validate.Length(max=MAX_QUERY_LENGTH), _query_language])
    kind = fields.String(load_default="repository", validate=validate.OneOf(["repository", "tag"]))
    arch = fields.String(load_default=None, validate=validate.Length(max=64))
    os = fields.String(load_default=None, validate=validate.Length(max=64))
    limit = fields.Integer(load_default=DEFAULT_PAGE_SIZE, validate=_PAGE_SIZE)
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> SearchRequest:
        # An empty filter from a form means "no filter".
        data["arch"] = data["arch"] or None
        data["os"] = data["os"] or None
        return SearchRequest(language=True, **data)


class _RepositorySchema(Schema):
    registry = fields.String(load_default=None, validate=validate.Length(min=1))


def parse_docker_search(args: MultiDict[str, str]) -> DockerSearch:
    """The parameters of ``GET /v1/search``; ApiError 400 when invalid."""
    return _load(_DockerSearchSchema(), args)


def parse_search(args: MultiDict[str, str]) -> SearchRequest:
    """The parameters of ``GET /api/v1/search``; ApiError 400 when invalid or unknown."""
    return _load(_SearchSchema(), args)


def parse_repository_registry(args: MultiDict[str, str]) -> str | None:
    """The optional ``registry`` of ``GET /api/v1/repositories/<name>``."""
    return _load(_RepositorySchema(), args)["registry"]


def _load(schema: Schema, args: MultiDict[str, str]) -> Any:
    _reject_repeated(args)
    try:
        return schema.load(args.to_dict())
    except ValidationError as error:
        raise _bad_request(error.messages, sorted(schema.fields)) from error


def _reject_repeated(args: MultiDict[str, str]) -> None:
    for name in sorted(args):
        if len(args.getlist(name)) > 1:
            raise ApiError(400, f"query parameter '{name}' is given more than once", name)


def _bad_request(messages: Any, known: list[str]) -> ApiError:
    if not isinstance(messages, Mapping) or not messages:  # schema-level errors; none defined today
        return ApiError(400, f"invalid query parameters: {messages}")
    problems = [_describe(name, messages[name], known) for name in sorted(messages)]
    return ApiError(400, "; ".join(problems), sorted(messages)[0])


def _describe(name: str, problem: Any, known: list[str]) -> str:
    if name not in known:
        return f"query parameter '{name}' is unknown (known: {', '.join(known)})"
    detail = " ".join(problem) if isinstance(problem, list) else str(problem)
    return f"query parameter '{name}': {detail}"
