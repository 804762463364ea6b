"""Query limits past the parser's (wildcard expansions, time) and the optional rate limit."""

from __future__ import annotations

from pathlib import Path

import pytest

import indexer.limits
from indexer.documents import RepositoryDocument
from indexer.index import SearchIndex
from indexer.limits import QueryLimitError, check_deadline, query_budget
from search_api.app import create_app
from search_api.limits import install_rate_limit
from tests.search_api.conftest import REGISTRY


@pytest.fixture
def many_terms(tmp_path: Path) -> SearchIndex:
    """Forty repositories whose names and descriptions hold forty different words starting "ca"."""
    index = SearchIndex.open(tmp_path / "index")
    documents = [RepositoryDocument(registry=REGISTRY, name=f"team/ca{n:02d}x", description=f"cache ca{n:02d}word")
                 for n in range(40)]
    index.apply([(doc.doc_id, doc) for doc in documents], {0: len(documents)})
    return index


def test_a_wildcard_past_the_expansion_limit_is_a_400_naming_it(
    many_terms: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indexer.limits, "MAX_EXPANSIONS", 30)
    client = create_app(lambda: many_terms).test_client()

    for url in ("/api/v1/search?q=ca*", "/api/v1/search?q=c*&facets=true", "/v1/search?q=ca*"):
        response = client.get(url)
        assert response.status_code == 400, url
        error = response.get_json()["error"]
        assert error["field"] == "q"
        assert "more than 30 different terms" in error["message"] and "ca" in error["message"]
    assert client.get("/api/v1/search?q=ca1*").get_json()["total"] == 10  # ca10..ca19: within the limit


def test_a_query_past_its_time_budget_is_a_400_naming_it(many_terms: SearchIndex) -> None:
    spent = create_app(lambda: many_terms, query_budget_s=0.0).test_client()

    for url in ("/api/v1/search?q=cache", "/api/v1/search?q=cache&facets=true", "/v1/search?q=cache"):
        response = spent.get(url)
        assert response.status_code == 400, url
        assert response.get_json()["error"] == {
            "status": 400, "field": "q",
            "message": "the query took longer than its time budget of 0 s; make it narrower",
        }
    assert spent.get("/healthz").status_code == 200
    default = create_app(lambda: many_terms).test_client()
    assert default.get("/api/v1/search?q=cache").get_json()["total"] == 40


def test_the_budget_belongs_to_its_context_alone() -> None:
    check_deadline()  # no budget: never raises
    with query_budget(0.0):
        with pytest.raises(QueryLimitError) as raised:
            check_deadline()
        assert raised.value.limit == "time"
    check_deadline()


def test_past_the_rate_limit_a_429_json_error_with_retry_after(many_terms: SearchIndex) -> None:
    app = create_app(lambda: many_terms)
    install_rate_limit(app, "3/minute")
    client = app.test_client()

    answers = [client.get("/api/v1/search?q=cache") for _ in range(4)]

    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.get_json()["error"]["status"] == 429
    assert "3 per 1 minute" in refused.get_json()["error"]["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-Content-Type-Options"] == "nosniff"  # still every security header
    assert client.get("/healthz").status_code == 200  # health is never limited
    other = app.test_client()
    assert other.get("/v1/search?q=cache", environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code == 200


def test_a_tag_wildcard_is_limited_too(index: SearchIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(indexer.limits, "MAX_EXPANSIONS", 1)  # the tags are "latest" and "1.25"
    client = create_app(lambda: index).test_client()

    for kind in ("repository", "tag"):
        response = client.get(f"/api/v1/search?kind={kind}&q=tag:*")
        assert response.status_code == 400
        assert "'*' matches more than 1 different terms in tag" in response.get_json()["error"]["message"]
    assert client.get("/api/v1/search?kind=tag&q=tag:lat*").get_json()["total"] == 1
