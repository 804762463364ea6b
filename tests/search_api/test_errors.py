"""Every error is a JSON body, including routing errors and crashes."""

from __future__ import annotations

from flask.testing import FlaskClient

from indexer.index import SearchIndex
from search_api.app import create_app


def test_unknown_route_is_json_404(client: FlaskClient) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.get_json() == {"error": {"status": 404, "message": "nothing here: /nowhere"}}


def test_wrong_method_is_json_405(client: FlaskClient) -> None:
    response = client.post("/api/v1/search")
    assert response.status_code == 405
    assert response.get_json() == {
        "error": {"status": 405, "message": "method POST is not allowed on /api/v1/search"}
    }
    assert "GET" in response.headers["Allow"]


def test_unexpected_failure_is_json_500_without_details() -> None:
    def broken_index() -> SearchIndex:
        raise RuntimeError("secret connection string")

    client = create_app(broken_index, {"TESTING": True}).test_client()
    for url in ("/api/v1/search", "/v1/search", "/api/v1/repositories/x"):
        response = client.get(url)
        assert response.status_code == 500
        assert response.get_json() == {"error": {"status": 500, "message": "internal server error"}}
        assert "secret" not in response.get_data(as_text=True)


def test_views_reach_the_index_only_through_the_getter(index: SearchIndex) -> None:
    calls: list[int] = []

    def getter() -> SearchIndex:
        calls.append(1)
        return index

    client = create_app(getter).test_client()
    assert calls == []
    client.get("/v1/search?q=nginx")
    client.get("/api/v1/search")
    assert len(calls) == 2
