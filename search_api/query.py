"""Query-string parsing and validation for the search API (marshmallow).

Each endpoint has a schema; a bad value, a parameter given twice or (on the
JSON API) an unknown parameter raises :class:`ApiError` 400 naming the
parameter and what is wrong with it. ``/v1/search`` ignores unknown
parameters, because the docker engine is a client we do not control.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate
from werkzeug.datastructures import MultiDict

from indexer.index import SearchRequest
from indexer.suggest import MOST_SUGGESTIONS
from indexer.query_language import QuerySyntaxError, field_term
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


@dataclass(frozen=True)
class ApiSearch:
    """``GET /api/v1/search``: the index's request, and whether facet counts are wanted too."""

    request: SearchRequest
    facets: bool = False


def _field_value(field: str, prefix: str = "") -> Callable[[str], None]:
    """A validator: the value must read as ``field:`` followed by ``prefix`` and it does in ``q``."""

    def check(value: str) -> None:
        if not value:
            return
        try:
            field_term(field, prefix + value)
        except QuerySyntaxError as error:
            raise ValidationError(error.message) from error

    return check


def _prefixed(prefix: str, value: str | None) -> str | None:
    return prefix + value if value else None


class _SearchSchema(Schema):
    # q in the query language (indexer/query_language.py); its errors name the position
    q = fields.String(load_default="", validate=[validate.Length(max=MAX_QUERY_LENGTH), _query_language])
    kind = fields.String(load_default="repository", validate=validate.OneOf(["repository", "tag"]))
    arch = fields.String(load_default=None, validate=validate.Length(max=64))
    os = fields.String(load_default=None, validate=validate.Length(max=64))
    limit = fields.Integer(load_default=DEFAULT_PAGE_SIZE, validate=_PAGE_SIZE)
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
    sort = fields.String(load_default="relevance", validate=validate.OneOf(["relevance", "updated", "name", "pulls"]))
    facets = fields.Boolean(load_default=False)
    # The query language's fields as parameters; each value reads as after "field:" in q.
    namespace = fields.String(load_default=None, validate=_field_value("namespace"))
    registry = fields.String(load_default=None, validate=_field_value("registry"))
    label = fields.List(fields.String(validate=_field_value("label")), load_default=list)
    pushed_after = fields.String(load_default=None, validate=_field_value("pushed", ">"))
    pushed_before = fields.String(load_default=None, validate=_field_value("pushed", "<"))

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> ApiSearch:
        # An empty filter from a form means "no filter".
        data["arch"] = data["arch"] or None
        data["os"] = data["os"] or None
        given = [("namespace", data.pop("namespace")), ("registry", data.pop("registry")),
                 *(("label", value) for value in data.pop("label")),
                 ("pushed", _prefixed(">", data.pop("pushed_after"))), ("pushed", _prefixed("<", data.pop("pushed_before")))]
        conditions = tuple(field_term(name, value) for name, value in given if value)
        facets = data.pop("facets")
        return ApiSearch(SearchRequest(language=True, conditions=conditions, **data), facets)


@dataclass(frozen=True)
class SuggestRequest:
    """``GET /api/v1/suggest``: what was typed so far, and how many completions to return."""

    prefix: str = ""
    limit: int = 10


class _SuggestSchema(Schema):
    prefix = fields.String(load_default="", validate=validate.Length(max=MAX_QUERY_LENGTH))
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=MOST_SUGGESTIONS))

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> SuggestRequest:
        return SuggestRequest(**data)


class _RepositorySchema(Schema):
    registry = fields.String(load_default=None, validate=validate.Length(min=1))


def parse_docker_search(args: MultiDict[str, str]) -> DockerSearch:
    """The parameters of ``GET /v1/search``; ApiError 400 when invalid."""
    return _load(_DockerSearchSchema(), args)


def parse_search(args: MultiDict[str, str]) -> ApiSearch:
    """The parameters of ``GET /api/v1/search``; ApiError 400 when invalid or unknown. ``label`` may repeat."""
    return _load(_SearchSchema(), args, repeatable=("label",))


def parse_suggest(args: MultiDict[str, str]) -> SuggestRequest:
    """The parameters of ``GET /api/v1/suggest``; ApiError 400 when invalid or unknown."""
    return _load(_SuggestSchema(), args)


def parse_repository_registry(args: MultiDict[str, str]) -> str | None:
    """The optional ``registry`` of ``GET /api/v1/repositories/<name>``."""
    return _load(_RepositorySchema(), args)["registry"]


def _load(schema: Schema, args: MultiDict[str, str], repeatable: tuple[str, ...] = ()) -> Any:
    _reject_repeated(args, repeatable)
    values: dict[str, Any] = args.to_dict()
    values.update((name, args.getlist(name)) for name in repeatable if name in args)
    try:
        return schema.load(values)
    except ValidationError as error:
        raise _bad_request(error.messages, sorted(schema.fields)) from error


def _reject_repeated(args: MultiDict[str, str], repeatable: tuple[str, ...]) -> None:
    for name in sorted(args):
        if name not in repeatable and len(args.getlist(name)) > 1:
            raise ApiError(400, f"query parameter '{name}' is given more than once", name)


def _bad_request(messages: Any, known: list[str]) -> ApiError:
    if not isinstance(messages, Mapping) or not messages:  # schema-level errors; none defined today
        return ApiError(400, f"invalid query parameters: {messages}")
    problems = [_describe(name, messages[name], known) for name in sorted(messages)]
    return ApiError(400, "; ".join(problems), sorted(messages)[0])


def _describe(name: str, problem: Any, known: list[str]) -> str:
    if name not in known:
        return f"query parameter '{name}' is unknown (known: {', '.join(known)})"
    return f"query parameter '{name}': {_detail(problem)}"


def _detail(problem: Any) -> str:
    """marshmallow's messages for one parameter as text: a list joined, a repeated parameter's by value number."""
    if isinstance(problem, list):
        return " ".join(str(p) for p in problem)
    if isinstance(problem, Mapping):
        return "; ".join(f"value {int(n) + 1}: {_detail(p)}" if isinstance(n, int) else _detail(p) for n, p in problem.items())
    return str(problem)


# The parameter schemas, for the OpenAPI description (search_api/openapi.py).
DOCKER_SEARCH_SCHEMA: type[Schema] = _DockerSearchSchema
SEARCH_SCHEMA: type[Schema] = _SearchSchema
SUGGEST_SCHEMA: type[Schema] = _SuggestSchema
REPOSITORY_SCHEMA: type[Schema] = _RepositorySchema
