"""Security headers on every response of a whole service app: search, errors, webhooks, health."""

from __future__ import annotations

import pytest
from flask import Flask

from search_api.headers import SECURITY_HEADERS
from tests.search_api.test_openapi import SERVICE_APP


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/api/v1/search?q=nginx", 200),
    ("GET", "/api/v1/search?limit=9999", 400),
    ("GET", "/v1/search?q=nginx", 200),
    ("GET", "/api/v1/repositories/no/such", 404),
    ("GET", "/nowhere", 404),
    ("POST", "/notifications", 401),
    ("GET", "/healthz", 200),
    ("GET", "/metrics", 200),
])
def test_every_answer_carries_the_security_headers(method: str, path: str, status: int) -> None:
    app: Flask = SERVICE_APP
    response = app.test_client().open(path, method=method)
    assert response.status_code == status
    assert {name: response.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
