"""Every endpoint answers as /api/v1/openapi.json describes it, and never with a 5xx.

schemathesis generates requests from the description (valid ones and, for
each parameter, invalid ones) and calls the whole WSGI app of a ``regsearch
serve`` process: search over a real index holding the documents of
``conftest``, and the webhook receiver over a real SQLite event log.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from regsearch.app import build_app
from regsearch.config import build_settings
from regsearch.resources import Resources
from tests.search_api.conftest import DOCUMENTS

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _service_app() -> tuple[Flask, Resources]:
    data = Path(tempfile.mkdtemp(prefix="regsearch-openapi-"))
    atexit.register(shutil.rmtree, data, ignore_errors=True)
    resources = Resources.open(build_settings({"data_dir": str(data), "webhook_token": "test-token"}))
    resources.index().apply([(doc.doc_id, doc) for doc in DOCUMENTS], {0: len(DOCUMENTS)})
    return build_app(frozenset({"webhooks", "search"}), resources, lambda: True), resources


# Built when the module is collected: schemathesis parametrizes the tests from the description,
# and its fixture-based loader does not run under pytest 9.
SERVICE_APP, RESOURCES = _service_app()
atexit.register(RESOURCES.close)
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", SERVICE_APP)


@pytest.fixture
def service_app() -> Flask:
    return SERVICE_APP


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
def test_every_operation_answers_as_described(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)


def test_the_description_names_every_route(service_app: Flask) -> None:
    described = set(service_app.test_client().get("/api/v1/openapi.json").get_json()["paths"])
    routes = {rule.rule.replace("<path:", "{").replace("<", "{").replace(">", "}") for rule in service_app.url_map.iter_rules()}
    routes = {r.replace("{any(base, derived):direction}", "{direction}") for r in routes if not r.startswith("/static")}
    assert routes == described
