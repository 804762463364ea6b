"""The docker-compatible /v1 endpoints."""

from __future__ import annotations

from dataclasses import replace

import pytest
from flask.testing import FlaskClient

from indexer.index import SearchIndex
from search_api.app import create_app
from tests.search_api.conftest import NGINX, REGISTRY


def test_ping_answers_what_the_docker_engine_reads(client: FlaskClient) -> None:
    response = client.get("/v1/_ping")
    assert response.status_code == 200
    assert response.headers["X-Docker-Registry-Version"] == "0.6.0"
    assert response.headers["X-Docker-Registry-Standalone"] == "true"
    assert response.get_json() is True


def test_search_response_has_docker_shape(client: FlaskClient) -> None:
    response = client.get("/v1/search?q=nginx", headers={"X-Docker-Token": "true"})
    assert response.status_code == 200
    assert response.headers["X-Docker-Registry-Standalone"] == "true"
    assert response.get_json() == {
        "query": "nginx",
        "num_results": 2,
        "num_pages": 1,
        "page": 1,
        "page_size": 25,
        "results": [
            {
                "name": NGINX.name,
                "description": "Official build of Nginx.",
                "star_count": 0,
                "is_official": False,
                "is_automated": False,
            },
            {
                "name": "tools/nginx-untitled",
                "description": "",
                "star_count": 0,
                "is_official": False,
                "is_automated": False,
            },
        ],
    }


def test_description_falls_back_to_title(client: FlaskClient) -> None:
    results = client.get("/v1/search?q=redis").get_json()["results"]
    assert [(r["name"], r["description"]) for r in results] == [("cache/redis", "Redis")]


def test_pages_of_n(client: FlaskClient) -> None:
    first = client.get("/v1/search?n=2").get_json()
    second = client.get("/v1/search?n=2&page=2").get_json()
    assert (first["num_results"], first["num_pages"], first["page_size"]) == (3, 2, 2)
    assert [r["name"] for r in first["results"]] == ["cache/redis", "library/nginx"]
    assert second["page"] == 2
    assert [r["name"] for r in second["results"]] == ["tools/nginx-untitled"]


def test_no_match_is_an_empty_page(client: FlaskClient) -> None:
    body = client.get("/v1/search?q=postgres").get_json()
    assert (body["num_results"], body["num_pages"], body["results"]) == (0, 0, [])


def test_unknown_parameters_are_ignored_for_docker(client: FlaskClient) -> None:
    assert client.get("/v1/search?q=nginx&future=1").status_code == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("n=0", "n"),
        ("n=101", "n"),
        ("n=abc", "n"),
        ("n=", "n"),
        ("page=0", "page"),
        ("page=two", "page"),
        ("q=" + "x" * 257, "q"),
        ("q=a&q=b", "q"),
    ],
)
def test_invalid_parameters_are_400(client: FlaskClient, query: str, field: str) -> None:
    response = client.get(f"/v1/search?{query}")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["status"] == 400
    assert error["field"] == field
    assert f"'{field}'" in error["message"]
    assert response.headers["X-Docker-Registry-Version"] == "0.6.0"


def test_n_bounds_are_inclusive(client: FlaskClient) -> None:
    assert client.get("/v1/search?n=1").get_json()["page_size"] == 1
    assert client.get("/v1/search?n=100").get_json()["page_size"] == 100
    assert client.get("/v1/search?q=" + "x" * 256).status_code == 200


def test_search_sent_to_a_registrys_host_finds_that_registrys_repositories(index: SearchIndex) -> None:
    mirrored = replace(NGINX, registry="mirror.example:5000")
    index.apply([(mirrored.doc_id, mirrored)], {0: 100})
    client = create_app(lambda: index, {"TESTING": True}, {"mirror.example:5000": "mirror.example:5000",
                                                            "registry.example": REGISTRY}).test_client()

    def names(host: str) -> tuple[list[str], int]:
        body = client.get("/v1/search?q=nginx", headers={"Host": host}).get_json()
        return [r["name"] for r in body["results"]], body["num_results"]

    assert names("mirror.example:5000") == (["library/nginx"], 1)
    assert names("Registry.Example") == (["library/nginx", "tools/nginx-untitled"], 2)
    assert names("search.example") == (["library/nginx", "library/nginx", "tools/nginx-untitled"], 3)
