"""The JSON API under /api/v1 and /healthz."""

from __future__ import annotations

from urllib.parse import urlencode

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from indexer.documents import Document, document_to_json
from tests.search_api.conftest import NGINX, NGINX_125, NGINX_LATEST, REDIS, REGISTRY, UNTITLED


def get_json(client: FlaskClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    return response.get_json()


def as_json(doc: Document) -> Any:
    """``doc`` as a client reads it from the wire."""
    return json.loads(document_to_json(doc))


def result_names(body: dict[str, Any]) -> list[str]:
    return [r.get("name") or f"{r['repository']}:{r['tag']}" for r in body["results"]]


def test_healthz(client: FlaskClient) -> None:
    assert get_json(client, "/healthz") == {"status": "ok"}


def test_search_defaults_to_repositories(client: FlaskClient) -> None:
    body = get_json(client, "/api/v1/search?q=nginx")
    assert (body["total"], body["limit"], body["offset"]) == (2, 25, 0)
    marked = {"description": ["Official build of <em>Nginx</em>."], "title": ["<em>NGINX</em>"]}
    assert body["results"][0] == {**as_json(NGINX), "highlights": marked}
    assert result_names(body) == ["library/nginx", "tools/nginx-untitled"]


def test_empty_query_lists_newest_first(client: FlaskClient) -> None:
    body = get_json(client, "/api/v1/search")
    assert result_names(body) == [REDIS.name, NGINX.name, UNTITLED.name]


def test_limit_and_offset(client: FlaskClient) -> None:
    body = get_json(client, "/api/v1/search?limit=1&offset=1")
    assert (body["total"], body["limit"], body["offset"]) == (3, 1, 1)
    assert result_names(body) == [NGINX.name]


def test_tag_results_carry_every_field(client: FlaskClient) -> None:
    body = get_json(client, "/api/v1/search?kind=tag&q=nginx")
    assert body["total"] == 2
    latest = next(r for r in body["results"] if r["tag"] == "latest")
    assert latest == {**as_json(NGINX_LATEST),
                      "highlights": {"description": ["Official build of <em>Nginx</em>."], "title": ["<em>NGINX</em>"]}}
    assert latest["kind"] == "tag"
    assert latest["platforms"] == [
        {"os": "linux", "architecture": "amd64", "variant": ""},
        {"os": "linux", "architecture": "arm", "variant": "v7"},
    ]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ("arch=arm", [NGINX.name]),
        ("arch=amd64&os=linux", [REDIS.name, NGINX.name]),
        ("os=windows", []),
        ("arch=&os=", [REDIS.name, NGINX.name, UNTITLED.name]),
    ],
)
def test_filters(client: FlaskClient, filters: str, expected: list[str]) -> None:
    assert result_names(get_json(client, f"/api/v1/search?{filters}")) == expected


def test_tag_filters(client: FlaskClient) -> None:
    body = get_json(client, "/api/v1/search?kind=tag&arch=arm")
    assert result_names(body) == ["library/nginx:latest"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=1000", "limit"),
        ("limit=0", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("kind=foo", "kind"),
        ("q=" + "x" * 257, "q"),
        ("color=blue", "color"),
        ("kind=tag&kind=repository", "kind"),
    ],
)
def test_invalid_parameters_are_400(client: FlaskClient, query: str, field: str) -> None:
    error = get_json(client, f"/api/v1/search?{query}", status=400)["error"]
    assert error["status"] == 400
    assert error["field"] == field
    assert f"'{field}'" in error["message"]


def test_400_message_says_what_is_wrong(client: FlaskClient) -> None:
    assert "one of: repository, tag" in get_json(client, "/api/v1/search?kind=foo", 400)["error"]["message"]
    assert "unknown" in get_json(client, "/api/v1/search?color=blue", 400)["error"]["message"]
    assert "256" in get_json(client, "/api/v1/search?q=" + "x" * 257, 400)["error"]["message"]


@pytest.mark.parametrize("q", ["ñ😀", "x" * 256, "-", "a OR b", "NOT nginx"])
def test_odd_but_valid_queries_answer_200(client: FlaskClient, q: str) -> None:
    response = client.get("/api/v1/search", query_string={"q": q})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("q", "problem"),
    [
        ('"', "a quote is not closed (at position 0)"),
        ("name:nginx", "unknown field 'name:'"),
        ("*", "'*' must follow the start of a word"),
        ("nginx AND", "ends too early: a term is missing (at position 9)"),
        ("(", "ends too early"),
        ("tag:v1/x", "a tag has 1 to 128"),
        ("digest:abc", "at least 12 hex digits"),
    ],
)
def test_a_query_that_does_not_parse_is_400_pointing_at_the_problem(client: FlaskClient, q: str, problem: str) -> None:
    error = get_json(client, "/api/v1/search?" + urlencode({"q": q}), 400)["error"]
    assert error["field"] == "q"
    assert problem in error["message"]


def test_signed_filters_on_signatures(client: FlaskClient) -> None:
    assert get_json(client, "/api/v1/search?q=signed:true")["total"] == 0  # no signature in these documents
    assert get_json(client, "/api/v1/search?q=signed:false")["total"] == 1  # the repository with tags


def test_repository_with_its_tag_documents(client: FlaskClient) -> None:
    body = get_json(client, "/api/v1/repositories/library/nginx")
    assert body == {
        **as_json(NGINX),
        "tags": [as_json(NGINX_LATEST), as_json(NGINX_125)],
    }


def test_repository_by_registry(client: FlaskClient) -> None:
    assert get_json(client, f"/api/v1/repositories/library/nginx?registry={REGISTRY}")["name"] == NGINX.name
    error = get_json(client, "/api/v1/repositories/library/nginx?registry=other.example", 404)["error"]
    assert error["status"] == 404


def test_missing_repository_is_404(client: FlaskClient) -> None:
    error = get_json(client, "/api/v1/repositories/library/postgres", 404)["error"]
    assert error == {"status": 404, "message": "repository 'library/postgres' is not in the index"}


def test_repository_rejects_unknown_parameters(client: FlaskClient) -> None:
    assert get_json(client, "/api/v1/repositories/library/nginx?tag=x", 400)["error"]["field"] == "tag"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ("namespace=library", [NGINX.name]),
        ("namespace=tools&q=nginx", [UNTITLED.name]),
        (f"registry={REGISTRY}&namespace=cache", [REDIS.name]),
        ("registry=elsewhere.example", []),
        ("label=maintainer", [NGINX.name]),
        ("label=maintainer&label=maintainer=NGINX Docker Maintainers", [NGINX.name]),
        ("label=maintainer&label=maintainer=someone else", []),
        ("pushed_after=2024-04-30", [REDIS.name, NGINX.name]),
        ("pushed_after=2024-04-30&pushed_before=2024-06", [NGINX.name]),
        ("pushed_before=2024", [UNTITLED.name]),
        ("q=nginx OR redis&pushed_after=2024-05", [REDIS.name]),
    ],
)
def test_query_language_filters_as_parameters(client: FlaskClient, filters: str, expected: list[str]) -> None:
    query = urlencode([tuple(pair.split("=", 1)) for pair in filters.split("&")])
    assert sorted(result_names(get_json(client, f"/api/v1/search?{query}"))) == sorted(expected)


@pytest.mark.parametrize(
    ("query", "field", "problem"),
    [
        ("pushed_after=soon", "pushed_after", "'soon' is not a date"),
        ("pushed_before=2024-13", "pushed_before", "is not a date"),
        ("label==x", "label", "'label:' needs a key"),
        ("label=ok&label=bad=", "label", "value 2: 'label:bad=' needs a value after '='"),
        ("namespace=a&namespace=b", "namespace", "given more than once"),
    ],
)
def test_bad_filter_parameters_are_400_naming_the_parameter(client: FlaskClient, query: str, field: str, problem: str) -> None:
    error = get_json(client, f"/api/v1/search?{query}", 400)["error"]
    assert error["field"] == field
    assert problem in error["message"]


def test_sort_by_name_and_by_update(client: FlaskClient) -> None:
    assert result_names(get_json(client, "/api/v1/search?sort=name")) == [REDIS.name, NGINX.name, UNTITLED.name]
    assert result_names(get_json(client, "/api/v1/search?q=nginx&sort=updated")) == [NGINX.name, UNTITLED.name]
    error = get_json(client, "/api/v1/search?sort=stars", 400)["error"]
    assert error["field"] == "sort" and "relevance, updated, name, pulls" in error["message"]


def test_suggest_completes_repository_names(client: FlaskClient) -> None:
    body = get_json(client, "/api/v1/suggest?prefix=ngi&limit=5")
    assert body["prefix"] == "ngi"
    assert sorted(s["text"] for s in body["suggestions"]) == [NGINX.name, UNTITLED.name]
    assert body["suggestions"][0]["kind"] == "repository"
    assert get_json(client, "/api/v1/suggest?limit=0", 400)["error"]["field"] == "limit"


def test_a_search_finding_little_suggests_a_respelled_query(client: FlaskClient) -> None:
    assert get_json(client, "/api/v1/search?q=ngnix")["suggestion"] == "nginx"
    assert get_json(client, "/api/v1/search?q=nginx")["suggestion"] is None  # found enough
    assert get_json(client, "/api/v1/search")["suggestion"] is None


def test_facets_on_request(client: FlaskClient) -> None:
    assert "facets" not in get_json(client, "/api/v1/search")
    facets = get_json(client, "/api/v1/search?facets=true&arch=arm")["facets"]
    assert facets["arch"] == {"amd64": 2, "arm": 1, "arm/v7": 1}  # counted without the arch filter
    assert facets["os"] == {"linux": 1}
    assert facets["namespace"] == {"library": 1}
    assert set(facets) == {"arch", "os", "namespace", "registry", "label"}
    assert get_json(client, "/api/v1/search?facets=maybe", 400)["error"]["field"] == "facets"


def test_results_highlight_the_query_words_in_title_and_description(client: FlaskClient) -> None:
    result = get_json(client, "/api/v1/search?q=official builds")["results"][0]
    assert result["name"] == NGINX.name
    assert result["highlights"] == {"description": ["<em>Official</em> <em>build</em> of Nginx."]}
